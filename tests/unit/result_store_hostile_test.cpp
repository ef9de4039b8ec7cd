// Result stores given as input are data from outside: every reader goes through
// read_result_store, which must refuse (StoreError, exit 5) what would make a reader index past a
// buffer, follow a link out of the file or allocate what the file cannot hold.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <limits>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/hdf5/h5_file.hpp"
#include "io/store/result_store.hpp"
#include "stages/verdict/store_evidence.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

using lineage::testing::error_of;

StoreContents sample() {
  StoreContents c;
  c.run_id = "run-1";
  c.status = "complete";
  c.models.push_back({"suspect", "/m/a", "llama", 1, {"s.safetensors"}, {10}, {1}, {}});
  c.models.push_back({"parent", "/m/b", "llama", 1, {"s.safetensors"}, {10}, {2}, {}});
  c.units.push_back({0, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"), "q",
                     "q", 0, 1, 0, 0, -1, 4, 8, 64});
  c.units.push_back({1, UnitKind::same_key, parse_tensor_key("text/attn_k/L0"), parse_tensor_key("text/attn_k/L0"), "k",
                     "k", 0, 1, 0, 0, -1, 4, 8, 64});
  c.plan_rank_of_unit = {0, 0};
  c.plan_bytes_per_rank = {128};
  c.stat_names = {"cosine", "pearson", "rel_l2"};
  c.done_ids = {0, 1};
  c.stats = {0.9, 0.8, 0.1, 0.7, 0.6, 0.2};
  c.hash_a = {1, 2};
  c.hash_b = {1, 3};
  return c;
}

class StoreHostile : public ::testing::Test {
 protected:
  void SetUp() override { write_result_store(path(), sample()); }
  [[nodiscard]] std::filesystem::path path() const { return dir_.path() / "run.h5"; }
  /// Applies `edit` to a fresh store in place, then returns the error reading it gives.
  template <typename Fn>
  std::string after(Fn&& edit) {
    write_result_store(path(), sample());
    {
      H5File f(path(), H5File::Mode::read_write);
      edit(f);
    }
    return error_of([&] { (void)read_result_store(path()); });
  }
  lineage::testing::TempDir dir_;
};

TEST_F(StoreHostile, FewerStatColumnsThanNamesIsRefused) {
  const auto msg = after([](H5File& f) {
    const std::vector<double> two_cols{0.9, 0.8, 0.7, 0.6};
    f.write<double>("/results/stats", two_cols, {2, 2});
  });
  EXPECT_NE(msg.find("/results/stats is [2 x 2], not [2 x 3]"), std::string::npos) << msg;
}

TEST_F(StoreHostile, MissingLabelsIsRefused) {
  const auto msg = after([](H5File& f) { f.remove("/inputs/labels"); });
  EXPECT_NE(msg.find("/inputs/labels is missing"), std::string::npos) << msg;
}

TEST_F(StoreHostile, ShortColumnsAndBadIndicesAreRefused) {
  EXPECT_NE(after([](H5File& f) { f.write_strings("/units/kind", {"same_key"}); }).find("/units/kind has 1 entries"),
            std::string::npos);
  EXPECT_NE(after([](H5File& f) {
              const std::vector<std::int32_t> m{0, 7};
              f.write<std::int32_t>("/units/model_b", m, {2});
            }).find("names a model outside"),
            std::string::npos);
  EXPECT_NE(after([](H5File& f) {
              const std::vector<std::uint64_t> ids{0, 9};
              f.write<std::uint64_t>("/results/unit_id", ids, {2});
            }).find("names no unit"),
            std::string::npos);
  EXPECT_NE(after([](H5File& f) {
              const std::vector<std::int32_t> holder{12}, lacking{0};
              f.write<std::int32_t>("/unmatched/model", holder, {1});
              f.write<std::int32_t>("/unmatched/lacking_model", lacking, {1});
              f.write_strings("/unmatched/key", {"text/lm_head"});
            }).find("names a model that does not exist"),
            std::string::npos);
}

TEST_F(StoreHostile, SupersededUnitsMustBeUnitsWithoutResultsInOrder) {
  const auto superseded = [&](std::vector<std::uint64_t> ids) {
    return after([&](H5File& f) { f.write<std::uint64_t>("/units/superseded_ids", ids, {ids.size()}); });
  };
  EXPECT_NE(superseded({5}).find("/units/superseded_ids[0] names no unit"), std::string::npos);
  EXPECT_NE(superseded({1}).find("names unit 1, which has results"), std::string::npos);
  // Only a routed expert's same-key unit is ever superseded (unit 0 is attention's).
  EXPECT_NE(after([](H5File& f) {
              const std::vector<std::uint64_t> done{1}, ids{0};
              f.write<std::uint64_t>("/results/unit_id", done, {1});
              f.write<std::uint64_t>("/units/superseded_ids", ids, {1});
            }).find("which is no same-key unit of a routed expert"),
            std::string::npos);
  EXPECT_NE(after([](H5File& f) {
              const std::vector<std::uint64_t> done{0};
              f.write<std::uint64_t>("/results/unit_id", done, {1});
              const std::vector<std::uint64_t> ids{1, 1};
              f.write<std::uint64_t>("/units/superseded_ids", ids, {2});
            }).find("/units/superseded_ids is not strictly ascending"),
            std::string::npos);
}

TEST_F(StoreHostile, UnitKindOrKeyTextLineageDoesNotWriteIsRefusedByFileDatasetAndRow) {
  // A text column of /units rewritten, and where the reader must say the fault is.
  struct Case {
    std::string dataset;
    std::vector<std::string> column;
    std::string where;
  };
  const std::vector<Case> cases{
      {"/units/kind", {"same_key", "sideways"}, "/units/kind[1] is 'sideways', not a unit kind"},
      {"/units/key_a",
       {"q_proj.weight", "text/attn_k/L0"},
       "/units/key_a[0] is 'q_proj.weight', not a canonical tensor key"},
      // Parts the lenient parser would read as other/none are not lineage's text either.
      {"/units/key_b",
       {"text/attn_q/L0", "text/attn_zz/L0"},
       "/units/key_b[1] is 'text/attn_zz/L0', not a canonical tensor key"},
      {"/units/role",
       {"attn_q", "attn_v"},
       "/units/component[1] and /units/role[1] are 'text' and 'attn_v', not those of /units/key_a[1]"},
  };
  for (const auto& c : cases) {
    const auto msg = after([&](H5File& f) { f.write_strings(c.dataset, c.column); });
    EXPECT_NE(msg.find(path().string() + ": damaged result store: " + c.where), std::string::npos) << msg;
  }
}

TEST_F(StoreHostile, OversizedDeclaredColumnIsRefusedBeforeAllocating) {
  const auto msg = after([](H5File& f) {
    f.remove("/results/hash_a");
    // 10^11 elements declared, chunked, never written: a few hundred bytes on disk.
    const hsize_t dims = 100'000'000'000ull, chunk = 1024;
    const hid_t space = H5Screate_simple(1, &dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    const hid_t file = H5Fopen(f.path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t d = H5Dcreate2(file, "/results/hash_a", H5T_NATIVE_UINT64, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dclose(d), H5Fclose(file), H5Pclose(dcpl), H5Sclose(space);
  });
  EXPECT_NE(msg.find("more than the file holds"), std::string::npos) << msg;
}

TEST_F(StoreHostile, ExternalLinkIsRefused) {
  const auto other = dir_.path() / "other.h5";
  write_result_store(other, sample());
  const auto msg = after([&](H5File& f) {
    f.remove("/units/kind");
    const hid_t file = H5Fopen(f.path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Lcreate_external(other.c_str(), "/units/kind", file, "/units/kind", H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(file);
  });
  EXPECT_NE(msg.find("external"), std::string::npos) << msg;
}

TEST_F(StoreHostile, OtherSchemaVersionIsAStoreError) {
  {
    H5File f(path(), H5File::Mode::read_write);
    f.set_attribute("/", "schema_version", std::int64_t{99});
  }
  try {
    (void)read_result_store(path());
    FAIL() << "read a schema 99 store";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(StoreHostile, ChangedRowFailsItsChecksum) {
  const auto msg = after([](H5File& f) {
    const std::vector<double> changed{0.9, 0.8, 0.1, 0.7, 0.6, 0.25};
    f.write<double>("/results/stats", changed, {2, 3});
  });
  EXPECT_NE(msg.find("result row 1 (unit 1) does not match its checksum"), std::string::npos) << msg;
  // Without verification (lineage check reports rows itself) it reads.
  StoreReadOptions o;
  o.verify_checksums = false;
  EXPECT_EQ(read_result_store(path(), o).row_checksums.size(), 2u);
}

TEST_F(StoreHostile, VersionOneStoresStillRead) {
  {
    H5File f(path(), H5File::Mode::read_write);
    f.set_attribute("/", "schema_version", std::int64_t{1});
    f.remove("/units/row_xxh3");
    f.remove("/results/row_xxh3");
  }
  const auto c = read_result_store(path());
  EXPECT_EQ(c.schema_version, 1);
  EXPECT_TRUE(c.row_checksums.empty());
}

TEST_F(StoreHostile, DeepOrForeignEvidenceJsonIsRefused) {
  EXPECT_NE(
      after([](H5File& f) { f.write_strings("/evidence/json", {std::string(100000, '[')}); }).find("nested deeper"),
      std::string::npos);
  EXPECT_NE(after([](H5File& f) { f.write_strings("/evidence/json", {"{\"a\": 1}"}); }).find("not a JSON list"),
            std::string::npos);
}

TEST_F(StoreHostile, AttributeOfAnotherShapeIsRefused) {
  const auto msg = after([](H5File& f) {
    const hid_t file = H5Fopen(f.path().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(file, "schema_version");
    const hsize_t n = 1000;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t a = H5Acreate2(file, "schema_version", H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::int64_t> v(n, 2);
    H5Awrite(a, H5T_NATIVE_INT64, v.data());
    H5Aclose(a), H5Sclose(space), H5Fclose(file);
  });
  EXPECT_NE(msg.find("is not a single value"), std::string::npos) << msg;
}

TEST_F(StoreHostile, NeuronMatchingsThatDoNotAddUpAreRefused) {
  const auto neurons = [](std::vector<std::uint64_t> id, std::vector<std::uint64_t> count, std::size_t n) {
    return [=](H5File& f) {
      f.ensure_group("/neurons");
      const std::vector<std::uint64_t> values(n, 3);
      f.write<std::uint64_t>("/neurons/unit_id", id, {id.size()});
      f.write<std::uint64_t>("/neurons/count", count, {count.size()});
      f.write<std::uint64_t>("/neurons/suspect", values, {n});
      f.write<std::uint64_t>("/neurons/other", values, {n});
    };
  };
  EXPECT_NE(after(neurons({7}, {2}, 2)).find("/neurons/unit_id[0] names no unit"), std::string::npos);
  EXPECT_NE(after(neurons({0}, {5}, 2)).find("adds up to more"), std::string::npos);
  EXPECT_NE(after(neurons({0}, {1}, 2)).find("adds up to less"), std::string::npos);
  EXPECT_NE(after(neurons({0, 1}, {1}, 2)).find("/neurons/count has 1 entries"), std::string::npos);
  EXPECT_EQ(after(neurons({0, 1}, {1, 1}, 2)), "");
}

}  // namespace
}  // namespace lineage::io

namespace lineage::stages {
namespace {

// Counts kept as doubles (n, permutations, non-finite counts) come from outside too: a negative,
// huge or NaN value must read as 0, never be cast to an integer (undefined behaviour, found by the
// result-store fuzzer; the UBSan run of this test catches a regression).
TEST(StoreHostileCounts, NegativeHugeOrNaNCountsReadAsZero) {
  auto c = io::sample();
  c.stat_names = {"n", "cosine", "pearson", "rel_l2", "frac_value_equal", "null_perms", "nonfinite_a"};
  c.stats = {-7.3787e12,
             0.9,
             0.8,
             0.1,
             0.0,
             1e300,
             std::numeric_limits<double>::quiet_NaN(),
             std::numeric_limits<double>::infinity(),
             0.7,
             0.6,
             0.2,
             0.0,
             -1.0,
             1e30};
  const auto by_pair = evidence_by_pair(c);
  ASSERT_EQ(by_pair.size(), 1u);
  for (const auto& e : by_pair.begin()->second) {
    EXPECT_EQ(e.elements, 0u);
    EXPECT_EQ(e.null_perms, 0);
    EXPECT_EQ(e.nonfinite_a, 0u);
  }
}

}  // namespace
}  // namespace lineage::stages
