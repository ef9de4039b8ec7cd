// Unmatched tensors as typed {model, lacking model, key} records: through the store (and the notes
// older stores hold), through merge, and counted by the verdict's evidence.
#include "core/unmatched_tensor.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "io/hdf5/h5_file.hpp"
#include "io/store/result_store.hpp"
#include "jobs/store_merge.hpp"
#include "stages/verdict/store_evidence.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

const TensorKey kLmHead{Component::text, TensorRole::lm_head};
const TensorKey kExpert{Component::text, TensorRole::routed_expert, 3, 17, Projection::gate};

io::StoredModel model(const std::string& label, const std::string& path, std::uint64_t content) {
  return {label, path, "llama", 1, {"s.safetensors"}, {10}, {content}, {}};
}

io::StoreContents store(const io::StoredModel& suspect, const io::StoredModel& other,
                        std::vector<UnmatchedTensor> unmatched) {
  io::StoreContents c;
  c.models = {suspect, other};
  c.units.push_back({0, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"), "q",
                     "q", 0, 1, 0, 0, -1, 4, 8, 64});
  c.unmatched = std::move(unmatched);
  return c;
}

TEST(UnmatchedTensor, KeysParseOnlyWhenCanonicalAndFormatAsBefore) {
  const auto key = unmatched_tensor(0, 1, "text/lm_head");
  ASSERT_NE(key.tensor_key(), nullptr);
  EXPECT_EQ(*key.tensor_key(), kLmHead);
  const auto raw = unmatched_tensor(2, 0, "model.layers.0.mystery.weight");
  EXPECT_EQ(raw.tensor_key(), nullptr);
  EXPECT_EQ(raw.key_text(), "model.layers.0.mystery.weight");
  EXPECT_EQ(unmatched_tensor(0, 1, "text/attn_q/L99999999999").tensor_key(), nullptr);  // out of range
  // Prose only for a reader, in the pair stage's old wording.
  EXPECT_EQ(to_string(key), "model 1 lacks text/lm_head");
  EXPECT_EQ(to_string(raw), "model 0 lacks model.layers.0.mystery.weight of model 2");
}

TEST(UnmatchedTensor, RecordsRoundTripThroughTheStore) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "run.h5";
  const std::vector<UnmatchedTensor> records{
      {0, 1, kLmHead}, {1, 0, kExpert}, {1, 0, std::string("model.layers.0.mystery.weight")}};
  io::write_result_store(path, store(model("suspect", "/m/a", 1), model("parent", "/m/b", 2), records));
  EXPECT_EQ(io::read_result_store(path).unmatched, records);
  {
    // Readers older than the table count the notes, formatted from the records.
    const io::H5File f(path, io::H5File::Mode::read);
    EXPECT_EQ(f.read_strings("/units/unmatched"),
              (std::vector<std::string>{"model 1 lacks text/lm_head",
                                        "model 0 lacks text/routed_expert/L3/E17/gate of model 1",
                                        "model 0 lacks model.layers.0.mystery.weight of model 1"}));
  }
  // A record naming a model the store does not hold is refused.
  {
    io::H5File f(path, io::H5File::Mode::read_write);
    const std::vector<std::int32_t> lacking{1, 0, 5};
    f.write<std::int32_t>("/unmatched/lacking_model", lacking, {3});
  }
  EXPECT_THROW((void)io::read_result_store(path), StoreError);
}

TEST(UnmatchedTensor, StoresWithNotesOnlyAreReadAsRecords) {
  // Stores written before the /unmatched table hold the pair stage's notes.
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "run.h5";
  const auto write_notes = [&](const std::vector<std::string>& notes) {
    io::write_result_store(path, store(model("suspect", "/m/a", 1), model("parent", "/m/b", 2), {}));
    io::H5File f(path, io::H5File::Mode::read_write);
    f.remove("/unmatched");
    f.write_strings("/units/unmatched", notes);
  };
  write_notes({"model 1 lacks text/lm_head", "model 0 lacks text/routed_expert/L3/E17/gate of model 1",
               "model 0 lacks raw.name of model 1"});
  const std::vector<UnmatchedTensor> want{{0, 1, kLmHead}, {1, 0, kExpert}, {1, 0, std::string("raw.name")}};
  EXPECT_EQ(io::read_result_store(path).unmatched, want);
  for (const std::string note : {"model 7 lacks text/lm_head", "model 0 lacks text/lm_head of model 3",
                                 "suspect lacks text/lm_head", "model 1 has text/lm_head"}) {
    write_notes({note});
    EXPECT_THROW((void)io::read_result_store(path), StoreError) << note;
  }
}

TEST(UnmatchedTensor, MergeRenumbersRecordsAndTheEvidenceCountsThem) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), c = model("control1", "/m/c", 3);
  // a-b: the parent lacks lm_head; a-c: the suspect lacks an expert of the control.
  const auto ab = store(a, b, {{0, 1, kLmHead}});
  const auto ac = store(a, c, {{1, 0, kExpert}, {0, 1, kLmHead}});
  const auto merged = jobs::merge_stores({{"ab.h5", ab}, {"ab2.h5", ab}, {"ac.h5", ac}}).store;
  // c became model 2; the same record from two stores is one.
  const std::vector<UnmatchedTensor> want{{0, 1, kLmHead}, {0, 2, kLmHead}, {2, 0, kExpert}};
  EXPECT_EQ(merged.unmatched, want);
  EXPECT_EQ(stages::unmatched_between(merged, 0, 1), 1u);
  EXPECT_EQ(stages::unmatched_between(merged, 0, 2), 2u);
  // The layout sees the control's expert layer and count through its record.
  const auto layout = stages::layout_of(merged, 0, 2);
  EXPECT_EQ(layout.other_layers, 4);
  EXPECT_EQ(layout.other_experts, 18);
}

}  // namespace
}  // namespace lineage
