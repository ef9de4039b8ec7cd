#include "io/store/result_store.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>

#include "core/errors.hpp"
#include "io/hdf5/h5_file.hpp"
#include "support/file_size_limit.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

StoreContents sample() {
  StoreContents c;
  c.run_id = "run-1";
  c.status = "complete";
  c.config_json = R"({"suspect":"a"})";
  c.writers = {"local"};
  c.models.push_back(
      {"suspect", "/m/a", "qwen2_moe", 10, {"s1.safetensors"}, {1234}, {0xABCDEFull}, {1700000000123456789}});
  c.models.push_back({"parent", "/m/b", "qwen2_moe", 10, {"s1.safetensors", "s2.safetensors"}, {10, 20}, {1, 2}, {}});
  c.units.push_back({0, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"),
                     "q0", "q0", 0, 1, 0, 0, -1, 4, 8});
  c.units.push_back({1, UnitKind::baseline, parse_tensor_key("text/attn_norm/L1"),
                     parse_tensor_key("text/attn_norm/L2"), "n1", "n2", 0, 1, 1, 2, -1, 8, 1});
  c.plan_ranks = 2;
  c.plan_rank_of_unit = {0, 1};
  c.plan_bytes_per_rank = {64, 32};
  c.stat_names = {"cosine", "pearson", "rel_l2"};
  c.done_ids = {0, 1};
  c.stats = {0.99, 0.98, 0.01, 0.95, 0.01, 1.2};
  c.hash_a = {11, 12};
  c.hash_b = {11, 13};
  c.values.put(1, std::vector<float>{1.0f, 1.1f}, std::vector<float>{0.9f, 1.2f});
  c.neuron_matches.put(0, std::vector<std::uint64_t>{3, 9, 17}, std::vector<std::uint64_t>{5, 9, 2});
  c.joint_null.put(0, std::vector<float>{0.01f, -0.02f, 0.005f});
  c.verdict_json = R"({"overall":"derived"})";
  return c;
}

TEST(ResultStore, EverythingRoundTrips) {
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  write_result_store(p, sample());
  const auto c = read_result_store(p);
  EXPECT_EQ(c.run_id, "run-1");
  EXPECT_EQ(c.status, "complete");
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[1].shard_files.size(), 2u);
  EXPECT_EQ(c.models[0].header_hashes[0], 0xABCDEFull);
  EXPECT_EQ(c.models[0].shard_mtimes_ns, std::vector<std::int64_t>{1700000000123456789});  // kept for --resume
  EXPECT_TRUE(c.models[1].shard_mtimes_ns.empty());                                        // older stores have none
  EXPECT_EQ(c.models[0].fingerprint(), sample().models[0].fingerprint());
  EXPECT_NE(c.models[0].fingerprint(), c.models[1].fingerprint());
  ASSERT_EQ(c.units.size(), 2u);
  EXPECT_EQ(to_string(c.units[1].key_b), "text/attn_norm/L2");
  EXPECT_EQ(c.units[1].layer_b, 2);
  EXPECT_EQ(c.plan_rank_of_unit, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(c.stats, sample().stats);
  EXPECT_EQ(c.stat_names, sample().stat_names);
  ASSERT_TRUE(c.values.contains(1));
  EXPECT_TRUE(std::ranges::equal(c.values.find(1)->b, std::vector<float>{0.9f, 1.2f}));
  EXPECT_EQ(c.values, sample().values);
  EXPECT_EQ(c.neuron_matches, sample().neuron_matches);
  EXPECT_EQ(c.joint_null, sample().joint_null);
  EXPECT_EQ(c.verdict_json, R"({"overall":"derived"})");
}

// A store of schema 2 (texts as variable-length strings, as lineage wrote them before schema 3)
// reads as it did; a store of this build says schema 3, which the builds before refuse.
TEST(ResultStore, TextsOfSchemaTwoStoresStillRead) {
  lineage::testing::TempDir dir;
  const auto p = dir.path() / "run.h5";
  auto c = sample();
  c.tensor_scan_json = R"({"models":[]})";
  c.summaries_json = R"({"parent":{}})";
  write_result_store(p, c);
  {
    H5File f(p, H5File::Mode::read_write);
    EXPECT_EQ(f.int_attribute("/", "schema_version"), 3);
    for (const auto& [path, text] :
         std::vector<std::pair<std::string, std::string>>{{"/run/config_json", c.config_json},
                                                          {"/verdict/json", std::string(c.verdict_json)},
                                                          {"/summaries/json", c.summaries_json},
                                                          {"/tensor_scan/json", std::string(c.tensor_scan_json)}}) {
      f.write_strings(path, {text});  // replaces the fixed-length string
    }
    f.set_attribute("/", "schema_version", std::int64_t{2});
  }
  const auto back = read_result_store(p);
  EXPECT_EQ(back.schema_version, 2);
  EXPECT_EQ(back.config_json, c.config_json);
  EXPECT_EQ(back.verdict_json, c.verdict_json);
  EXPECT_EQ(back.summaries_json, c.summaries_json);
  EXPECT_EQ(back.tensor_scan_json, c.tensor_scan_json);
  EXPECT_EQ(back.units.size(), c.units.size());
}

TEST(ResultStore, PerUnitVectorsWrittenInManyPartsRoundTrip) {
  // More sketch rows and neuron entries than one 4 MiB part of the writer holds, and MLPs with no
  // sampled neuron between others: each dataset is written a part at a time.
  auto c = sample();
  constexpr std::uint64_t kUnits = 20000;
  while (c.units.size() < kUnits) {
    auto u = c.units.front();
    u.id = c.units.size();
    c.units.push_back(u);
  }
  c.plan_rank_of_unit.assign(kUnits, 0);
  for (std::uint64_t id = 0; id < kUnits; ++id) {
    std::vector<float> a(64), b(64);
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<float>(id) + 0.001f * static_cast<float>(i);
      b[i] = -a[i];
    }
    c.sketches.put(id, a, b);
  }
  // Relabellings of every unit: 16 MB, many parts of the reader's megabyte.
  c.joint_null.clear();
  for (std::uint64_t id = 0; id < kUnits; ++id) {
    std::vector<float> h(200);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(id) - 0.5f * static_cast<float>(i);
    c.joint_null.put(id, h);
  }
  c.neuron_matches.clear();
  for (std::uint64_t id = 0; id < 700; ++id) {
    const std::size_t n = id % 5 == 2 ? 0 : 1000 + id;
    std::vector<std::uint64_t> suspect(n), other(n);
    for (std::size_t i = 0; i < n; ++i) {
      suspect[i] = id * 100000 + i;
      other[i] = id * 100000 + n - i;
    }
    c.neuron_matches.put(id, suspect, other);
  }
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  write_result_store(p, c);
  const auto back = read_result_store(p);
  EXPECT_EQ(back.sketches, c.sketches);
  EXPECT_EQ(back.neuron_matches, c.neuron_matches);
  EXPECT_EQ(back.joint_null, c.joint_null);
  EXPECT_EQ(back.joint_null.size(), kUnits);
}

TEST(ResultStore, RowsOfNoValuesRoundTripAsRows) {
  auto c = sample();
  c.sketches.put(0, std::span<const float>(), std::span<const float>());
  c.sketches.put(1, std::span<const float>(), std::span<const float>());
  c.joint_null.clear();
  c.joint_null.put(1, std::span<const float>());
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  write_result_store(p, c);
  const auto back = read_result_store(p);
  EXPECT_EQ(back.sketches.size(), 2u);
  EXPECT_EQ(back.sketches, c.sketches);
  EXPECT_TRUE(back.joint_null.contains(1));
  EXPECT_EQ(back.joint_null, c.joint_null);
}

TEST(ResultStore, SupersededUnitsRoundTripAndCountTowardsCompleteness) {
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  auto s = sample();
  s.units.push_back({2, UnitKind::same_key, parse_tensor_key("text/routed_expert/L0/E1/up"),
                     parse_tensor_key("text/routed_expert/L0/E1/up"), "e1", "e1", 0, 1, 0, 0, 1, 4, 8});
  s.plan_rank_of_unit.push_back(-1);
  EXPECT_EQ(units_missing(s), 1u);
  s.superseded_ids = {2};
  EXPECT_EQ(units_missing(s), 0u);
  write_result_store(p, s);
  const auto c = read_result_store(p);
  EXPECT_EQ(c.superseded_ids, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(units_missing(c), 0u);
  // A store without any has none (the dataset is only written when there are some).
  write_result_store(p, sample());
  EXPECT_TRUE(read_result_store(p).superseded_ids.empty());
}

TEST(ResultStore, TypedUnitsRoundTripAsTheTextColumnsReadersExpect) {
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  auto c = sample();
  // Every unit kind, and keys with an expert, a projection, a parameter kind and a sub-index.
  const TensorKey expert_up{Component::text, TensorRole::routed_expert, 3, 5, Projection::up};
  const TensorKey dense_up{Component::text, TensorRole::dense_mlp, 3, -1, Projection::up};
  const TensorKey vision_bias{Component::vision, TensorRole::attn_q, 0, -1, Projection::none, ParamKind::bias, 1};
  c.units = {
      {0, UnitKind::same_key, vision_bias, vision_bias, "vq", "vq", 0, 1, 0, 0, -1, 4, 8, 64},
      {1, UnitKind::submatrix, expert_up, expert_up, "e", "e", 0, 1, 3, 3, 5, 2, 8, 32},
      {2,
       UnitKind::baseline,
       dense_up,
       {Component::text, TensorRole::dense_mlp, 1, -1, Projection::up},
       "d3",
       "d1",
       0,
       1,
       3,
       1,
       -1,
       4,
       8,
       64},
      {3, UnitKind::within, dense_up, dense_up, "d3", "d3", 0, 0, 3, 3, -1, 4, 8, 64},
      {4, UnitKind::cross_role, expert_up, dense_up, "e", "d3", 0, 1, 3, 3, 5, 4, 8, 64},
  };
  c.plan_rank_of_unit = {0, 1, 0, 1, 0};
  c.done_ids = {0, 4};
  write_result_store(p, c);
  const auto back = read_result_store(p);
  EXPECT_EQ(back.units, c.units);
  // On disk the units are the text the schema documents (and h5py readers parse).
  const H5File f(p, H5File::Mode::read);
  EXPECT_EQ(f.read_strings("/units/kind"),
            (std::vector<std::string>{"same_key", "submatrix", "baseline", "within", "cross_role"}));
  EXPECT_EQ(f.read_strings("/units/key_a")[0], "vision/attn_q/I1/L0:bias");
  EXPECT_EQ(f.read_strings("/units/key_a")[4], "text/routed_expert/L3/E5/up");
  EXPECT_EQ(f.read_strings("/units/key_b")[4], "text/dense_mlp/L3/up");
  EXPECT_EQ(f.read_strings("/units/component")[0], "vision");
  EXPECT_EQ(f.read_strings("/units/role")[4], "routed_expert");
}

TEST(ResultStore, FailedWritesLeaveNothingAndForeignFilesAreRefused) {
  lineage::testing::TempDir d;
  EXPECT_THROW(write_result_store(d.path() / "missing-dir" / "run.h5", sample()), StoreError);
  auto bad = sample();
  bad.stats.pop_back();  // inconsistent: the writer refuses, and removes its temporary file
  EXPECT_THROW(write_result_store(d.path() / "run.h5", bad), std::exception);
  EXPECT_TRUE(std::filesystem::is_empty(d.path()));
  lineage::testing::write_bytes(d.path() / "x.h5", "not hdf5");
  EXPECT_THROW((void)read_result_store(d.path() / "x.h5"), StoreError);
  EXPECT_THROW((void)read_result_store(d.path() / "absent.h5"), StoreError);
  // An existing store is replaced whole, never partially.
  write_result_store(d.path() / "run.h5", sample());
  auto next = sample();
  next.run_id = "run-2";
  write_result_store(d.path() / "run.h5", next);
  EXPECT_EQ(read_result_store(d.path() / "run.h5").run_id, "run-2");
}

// A store that cannot be written whole (the file system refuses its bytes: here a file size
// limit, as a full disk does) is one StoreError that says why; the last good store stays as it
// was and no temporary is left. Either way of writing it: past the first reserved page (the
// store is built in the mapped file), or before it (built in memory, then written).
TEST(ResultStore, AStoreTheDiskCannotHoldFailsCleanlyAndKeepsTheLastGoodOne) {
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  write_result_store(p, sample());
  const auto last_good = lineage::testing::read_bytes(p);
  auto big = sample();
  big.run_id = "run-2";
  big.values.put(1, std::vector<float>(1u << 20, 0.5f), std::vector<float>(1u << 20, 0.25f));  // 8 MiB
  for (const std::size_t limit : {std::size_t{2} << 20, std::size_t{2000}}) {
    try {
      const lineage::testing::FileSizeLimit full(limit);
      write_result_store(p, big);
      ADD_FAILURE() << "a store past the limit of " << limit << " bytes was written";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find(std::strerror(EFBIG)), std::string::npos) << limit << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    }
    EXPECT_EQ(lineage::testing::read_bytes(p), last_good) << limit;
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path()), {}), 1) << limit;
  }
  write_result_store(p, big);  // room again
  EXPECT_EQ(read_result_store(p).run_id, "run-2");
}

TEST(ResultStore, PythonReadsTheStatisticsTable) {
  lineage::testing::TempDir d;
  const auto p = d.path() / "run.h5";
  write_result_store(p, sample());
  const std::string cmd = std::string(LINEAGE_PYTHON) +
                          " -c \"import h5py,sys; f=h5py.File(sys.argv[1],'r'); "
                          "names=[n.decode() if isinstance(n,bytes) else n for n in f['results/stat_names'][()]]; "
                          "s=f['results/stats'][()]; print(s.shape, s[1, names.index('rel_l2')], "
                          "int(f.attrs['schema_version']), f['units/role'][1].decode())\" " +
                          p.string();
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::array<char, 256> buf{};
  std::string out;
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  EXPECT_EQ(out, "(2, 3) 1.2 3 attn_norm\n");
}

}  // namespace
}  // namespace lineage::io
