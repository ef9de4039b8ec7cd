#include "stages/pair/pair_models.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/pair/block_scale_companions.hpp"
#include "stages/pair/token_mapped_units.hpp"
#include "support/synth_suite.hpp"

namespace lineage::stages {
namespace {

Inventory inventory_of(const std::filesystem::path& dir) {
  static const auto reg = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  const auto cfg = io::read_model_config(dir);
  return build_inventory(io::list_checkpoint(dir, false), &*cfg, reg);
}

TEST(PairModels, SameArchitecturePairsEveryKeyAndAddsBaselines) {
  const auto& suite = lineage::testing::synth_suite();
  const auto a = inventory_of(suite / "finetune");
  const auto b = inventory_of(suite / "base");
  const auto r = pair_models({&a, &b}, {});
  EXPECT_TRUE(r.unmatched.empty()) << r.unmatched.front();
  std::size_t same = 0, baseline = 0, within = 0, router_baselines = 0, norms_kept = 0;
  std::set<std::uint64_t> ids;
  for (const auto& u : r.units) {
    ids.insert(u.id);
    if (u.kind == UnitKind::within) {
      ++within;
      EXPECT_EQ(u.a.model, u.b.model);  // a model's own layers against each other
      EXPECT_NE(u.key_a.layer, u.key_b.layer);
      EXPECT_FALSE(u.keep_values) << u.a.tensor.str();  // nothing reads a model's own pairs' values
      continue;
    }
    EXPECT_EQ(u.a.model, 0);
    EXPECT_EQ(u.b.model, 1);
    if (u.kind == UnitKind::same_key) {
      ++same;
      EXPECT_EQ(u.key_a, u.key_b);
      EXPECT_EQ(u.a.tensor, u.b.tensor);  // same naming style
    }
    if (u.kind == UnitKind::baseline) {
      ++baseline;
      EXPECT_NE(u.key_a.layer, u.key_b.layer);
      EXPECT_EQ(u.key_a.role, u.key_b.role);
      EXPECT_FALSE(u.key_a.role == TensorRole::attn_norm && (u.key_a.layer == 0 || u.key_b.layer == 0));
    }
    // Values are kept only where the verdict reads them: routers and norm vectors of the same
    // key; never a baseline's (a norm vector is in a unit with every other layer's).
    const bool compared_in_place = u.kind == UnitKind::same_key || u.kind == UnitKind::submatrix;
    if (u.key_a.role == TensorRole::router) {
      EXPECT_EQ(u.keep_values, compared_in_place) << u.a.tensor.str();
      if (u.kind == UnitKind::baseline) ++router_baselines;
    }
    if (is_norm_role(u.key_a.role)) {
      EXPECT_EQ(u.keep_values, compared_in_place) << u.a.tensor.str();
      if (u.kind == UnitKind::same_key) ++norms_kept;
      // Still read whole: their layer x layer statistics are the vectors' entire.
      EXPECT_FALSE(u.sampled) << u.a.tensor.str();
    }
    if (!is_norm_role(u.key_a.role) && u.key_a.role != TensorRole::router && u.key_a.role != TensorRole::router_bias) {
      EXPECT_FALSE(u.keep_values) << u.a.tensor.str();
    }
  }
  EXPECT_GT(router_baselines, 0u);
  EXPECT_GT(norms_kept, 0u);
  EXPECT_EQ(ids.size(), r.units.size());
  EXPECT_GT(same, 50u);
  EXPECT_GT(baseline, 10u);
  EXPECT_GT(within, 10u);
  PairOptions none;
  none.baselines = false;
  for (const auto& u : pair_models({&a, &b}, none).units) EXPECT_NE(u.kind, UnitKind::within);
  // Deterministic: the same inputs give the same units.
  const auto again = pair_models({&a, &b}, {});
  ASSERT_EQ(again.units.size(), r.units.size());
  for (std::size_t i = 0; i < r.units.size(); ++i) {
    EXPECT_EQ(again.units[i].a.tensor, r.units[i].a.tensor);
    EXPECT_EQ(again.units[i].b.tensor, r.units[i].b.tensor);
  }
}

TEST(PairModels, VocabExtensionComparesTheCommonRows) {
  const auto& suite = lineage::testing::synth_suite();
  const auto a = inventory_of(suite / "vocab_extended");
  const auto b = inventory_of(suite / "base");
  const auto r = pair_models({&a, &b}, {});
  bool found = false;
  for (const auto& u : r.units) {
    if (u.key_a.role != TensorRole::embedding) continue;
    found = true;
    EXPECT_EQ(u.kind, UnitKind::submatrix);
    EXPECT_EQ(u.rows, std::min(u.a.rows, u.b.rows));
    EXPECT_LT(u.rows, u.a.rows);  // the suspect has more rows
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(r.submatrix_keys.empty());
}

TEST(PairModels, FusedExpertsPairPerExpertViews) {
  const auto& suite = lineage::testing::synth_suite("gpt_oss");
  const auto a = inventory_of(suite / "finetune");
  const auto b = inventory_of(suite / "base");
  const auto r = pair_models({&a, &b}, {});
  std::size_t gate = 0;
  for (const auto& u : r.units) {
    if (u.kind == UnitKind::same_key && u.key_a.role == TensorRole::routed_expert &&
        u.key_a.projection == Projection::gate && u.key_a.kind == ParamKind::weight) {
      ++gate;
      EXPECT_GE(u.key_a.expert, 0);
      EXPECT_FALSE(u.a.contiguous());  // interleaved, transposed view into the fused tensor
    }
  }
  EXPECT_GT(gate, 0u);
}

TEST(PairModels, ElementViewsKeepExactlyTheAcceptedKeysAndShareTheirNames) {
  const auto inv = inventory_of(lineage::testing::synth_suite() / "base");
  const auto all = element_views(inv, 0);
  const auto is_expert = [](const TensorKey& k) { return k.role == TensorRole::routed_expert; };
  const auto experts = element_views(inv, 0, false, is_expert);
  std::vector<std::pair<TensorKey, ElementView>> expected;
  for (const auto& kv : all) {
    if (is_expert(kv.first)) expected.push_back(kv);
  }
  ASSERT_GT(expected.size(), 0u);
  ASSERT_LT(expected.size(), all.size());
  ASSERT_EQ(experts.size(), expected.size());
  for (std::size_t i = 0; i < experts.size(); ++i) {
    EXPECT_EQ(experts[i].first, expected[i].first);
    EXPECT_EQ(experts[i].second.tensor, expected[i].second.tensor);
    EXPECT_EQ(experts[i].second.file, expected[i].second.file);
    EXPECT_EQ(experts[i].second.offset, expected[i].second.offset);
  }
  // The views of one shard file name it with one shared string, and units copy it, not its text.
  const auto r = pair_models({&inv, &inv}, {});
  ASSERT_FALSE(r.units.empty());
  const auto& first = r.units.front();
  for (const auto& u : r.units) {
    if (u.a.file == first.a.file && u.a.model == first.a.model) {
      EXPECT_EQ(&u.a.file.str(), &first.a.file.str());
    }
  }
}

// A weight stored beside a scale companion (block FP8, LLM.int8) is compared on its values when
// its codes are floats and the companion is a block grid of its shape, on its codes when the
// companion fits no grid, and not at all when its codes are integers; the pair's notes say so,
// per model, and say nothing for a model without scales.
TEST(PairModels, QuantisedWeightsAreNamedInTheNotes) {
  const auto dir = lineage::testing::synth_suite() / "base";
  const auto plain = inventory_of(dir);
  auto quantised = inventory_of(dir);
  quantised.model_dir = "quantised";
  std::vector<std::size_t> weights;
  for (std::size_t i = 0; i < quantised.tensors.size(); ++i) {
    const auto& t = quantised.tensors[i];
    if (t.key.kind == ParamKind::weight && t.shape.size() == 2 && t.key.role == TensorRole::routed_expert) {
      weights.push_back(i);
    }
  }
  ASSERT_GE(weights.size(), 5u);
  const auto with_scale = [&](std::size_t i, Dtype dtype, std::vector<std::uint64_t> grid) {
    quantised.tensors[i].dtype = dtype;
    auto scale = quantised.tensors[i];
    scale.name += "_scale_inv";
    scale.key.kind = ParamKind::scale;
    scale.dtype = Dtype::F32;
    scale.shape = std::move(grid);
    quantised.tensors.push_back(scale);
  };
  const auto blocks = [](std::uint64_t d) { return (d + 127) / 128; };
  for (int k = 0; k < 3; ++k) {
    const auto& shape = quantised.tensors[weights[static_cast<std::size_t>(k)]].shape;
    // Two with a grid of 128 x 128 blocks, one whose companion fits no grid of its shape.
    with_scale(weights[static_cast<std::size_t>(k)], Dtype::F8_E4M3,
               k < 2 ? std::vector{blocks(shape[0]), blocks(shape[1])} : std::vector{shape[0] + 1, std::uint64_t{3}});
  }
  for (int k = 3; k < 5; ++k) {
    with_scale(weights[static_cast<std::size_t>(k)], Dtype::I8,
               {quantised.tensors[weights[static_cast<std::size_t>(k)]].shape[0]});
  }
  const BlockScaleCompanions companions(quantised);
  EXPECT_EQ(companions.size(), 2u);
  EXPECT_EQ(companions.unscaled_weights(), 1u);
  ASSERT_NE(companions.of(quantised.tensors[weights[0]].name), nullptr);
  EXPECT_EQ(companions.of(quantised.tensors[weights[2]].name), nullptr);
  EXPECT_EQ(companions.of(quantised.tensors[weights[3]].name), nullptr);
  const TensorKey int8_key = quantised.tensors[weights[3]].key;
  const TensorKey fp8_key = quantised.tensors[weights[0]].key;

  const auto r = pair_models({&quantised, &plain}, {});
  std::vector<std::string> about_scales;
  for (const auto& n : r.notes) {
    if (n.find("\"Quantised weights\"") != std::string::npos) about_scales.push_back(n);
  }
  ASSERT_EQ(about_scales.size(), 3u);
  EXPECT_EQ(about_scales[0].rfind("quantised: 2 block-scaled weights are compared on their values", 0), 0u)
      << about_scales[0];
  EXPECT_EQ(about_scales[1].rfind("quantised: 1 quantised weights are compared on their stored codes", 0), 0u)
      << about_scales[1];
  EXPECT_EQ(about_scales[2].rfind("quantised: 2 integer-quantised weights are not compared", 0), 0u) << about_scales[2];
  bool fp8_paired = false, int8_paired = false;
  for (const auto& u : r.units) {
    if (u.kind != UnitKind::same_key) continue;
    fp8_paired = fp8_paired || u.key_a == fp8_key;
    int8_paired = int8_paired || u.key_a == int8_key;
  }
  EXPECT_TRUE(fp8_paired);
  EXPECT_FALSE(int8_paired);
  for (const auto& n : pair_models({&plain, &plain}, {}).notes) {
    EXPECT_EQ(n.find("quantised"), std::string::npos) << n;
  }
  // A model given twice is noted once.
  std::size_t twice = 0;
  for (const auto& n : pair_models({&quantised, &quantised}, {}).notes)
    twice += n.find("\"Quantised weights\"") != std::string::npos;
  EXPECT_EQ(twice, 3u);
}

/// A weight named `name` of `dtype` (an attention output of layer `layer`) and its F32 scale
/// companion `<name>_scale_inv` of shape `grid`.
std::pair<ClassifiedTensor, ClassifiedTensor> weight_and_grid(const std::string& name, Dtype dtype,
                                                              std::vector<std::uint64_t> shape,
                                                              std::vector<std::uint64_t> grid, int layer = 0) {
  ClassifiedTensor w;
  w.name = name;
  w.key = TensorKey{Component::text, TensorRole::attn_o, layer};
  w.dtype = dtype;
  w.shape = std::move(shape);
  ClassifiedTensor s = w;
  s.name = name + "_scale_inv";
  s.key.kind = ParamKind::scale;
  s.dtype = Dtype::F32;
  s.shape = std::move(grid);
  return {std::move(w), std::move(s)};
}

// The block grid is read from the weight's and the companion's shapes: 128 x 128 blocks of a
// DeepSeek-sized weight and of one with partial blocks, stacked experts, one factor for the whole
// tensor; a companion with more blocks than the weight has elements along a side fits no grid.
TEST(BlockScaleCompanions, BlockSizesComeFromTheShapes) {
  Inventory inv;
  const auto add = [&](const std::string& name, Dtype dtype, std::vector<std::uint64_t> shape,
                       std::vector<std::uint64_t> grid, int layer) {
    auto [w, s] = weight_and_grid(name, dtype, std::move(shape), std::move(grid), layer);
    inv.tensors.push_back(std::move(w));
    inv.tensors.push_back(std::move(s));
  };
  add("deepseek", Dtype::F8_E4M3, {7168, 2048}, {56, 16}, 0);
  add("partial", Dtype::F8_E4M3, {300, 260}, {3, 3}, 1);
  add("stacked", Dtype::F8_E5M2, {4, 300, 260}, {4, 3, 3}, 2);
  add("whole", Dtype::F8_E4M3, {300, 260}, {}, 3);
  add("too_many", Dtype::F8_E4M3, {300, 260}, {301, 3}, 4);
  add("bf16", Dtype::BF16, {300, 260}, {3, 3}, 5);
  const BlockScaleCompanions c(inv);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.unscaled_weights(), 1u);
  EXPECT_EQ(c.of("too_many"), nullptr);
  EXPECT_EQ(c.of("bf16"), nullptr);  // stored as its values
  for (const auto* name : {"deepseek", "partial", "stacked"}) {
    const auto* s = c.of(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->block_rows, 128u) << name;
    EXPECT_EQ(s->block_cols, 128u) << name;
  }
  EXPECT_EQ(c.of("deepseek")->grid_elements, 56u * 16u);
  EXPECT_EQ(c.of("stacked")->matrix_rows, 300u);
  EXPECT_EQ(c.of("stacked")->tensor_cols, 260u);
  EXPECT_EQ(c.of("stacked")->scale_tensor, 5u);
  const auto* whole = c.of("whole");
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->grid_elements, 1u);
  EXPECT_GE(whole->block_rows, 300u);
  EXPECT_GE(whole->block_cols, 260u);
}

// The list keeps the names it was built from: a run builds it once per model and reads it after
// the inventory it came from may be gone (a copy of the model shares it). Under ASan a list that
// held views of the inventory's names fails here.
TEST(BlockScaleCompanions, OutlivesTheInventoryItWasBuiltFrom) {
  std::optional<BlockScaleCompanions> c;
  {
    Inventory inv;
    // Longer than any short-string buffer, so the name lives on the heap and is freed with inv.
    auto [w, s] = weight_and_grid("model.layers.0.self_attn.o_proj.weight_of_a_name_longer_than_sso", Dtype::F8_E4M3,
                                  {256, 384}, {2, 3});
    inv.tensors = {w, s};
    c.emplace(inv);
  }
  const auto* s = c->of("model.layers.0.self_attn.o_proj.weight_of_a_name_longer_than_sso");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->scale_tensor, 1u);
  EXPECT_EQ(s->grid_elements, 6u);
}

// A weight's factors are its companion's bytes as the caller's read function copies them, laid
// out by the companion's grid; bytes that are not the grid's are refused naming the companion's
// file (under the model's folder), tensor and offset.
TEST(BlockScaleCompanions, ReadBlockScalesReadsTheCompanionThroughTheCallersRead) {
  Inventory inv;
  auto [w, s] = weight_and_grid("w", Dtype::F8_E4M3, {200, 130}, {2, 2});
  s.file = "shard-2.safetensors";
  s.data_begin = 1000;
  s.data_end = 1016;
  inv.tensors = {w, s};
  const BlockScaleCompanions c(inv);
  const auto* source = c.of("w");
  ASSERT_NE(source, nullptr);
  const std::vector<float> factors{0.5f, 2.0f, 0.25f, 4.0f};
  std::vector<std::string> asked;
  const auto scales =
      read_block_scales(*source, inv, "/models/m", [&](const ClassifiedTensor& t, std::span<std::byte> out) {
        asked.push_back(t.name);
        ASSERT_EQ(out.size(), t.data_end - t.data_begin);
        std::memcpy(out.data(), factors.data(), out.size());
      });
  EXPECT_EQ(asked, std::vector<std::string>{"w_scale_inv"});
  EXPECT_EQ(scales.grid, factors);
  EXPECT_EQ(scales.grid_cols, 2u);
  EXPECT_EQ(scales.block_rows, 128u);
  EXPECT_EQ(scales.block_cols, 128u);
  EXPECT_FLOAT_EQ(scales.factor_of(199 * 130 + 129), 4.0f);  // the last element: the last block
  // A list of another state of the inventory: the position it names is no longer the companion.
  const auto read_zeros = [](const ClassifiedTensor&, std::span<std::byte> out) {
    std::memset(out.data(), 0, out.size());
  };
  Inventory moved = inv;
  moved.tensors.insert(moved.tensors.begin() + 1, w);
  EXPECT_THROW((void)read_block_scales(*source, moved, "/models/m", read_zeros), InternalError);
  moved.tensors.resize(1);
  EXPECT_THROW((void)read_block_scales(*source, moved, "/models/m", read_zeros), InternalError);
  // A companion whose stored bytes are not four floats (the header says 12 bytes).
  inv.tensors[1].data_end = 1012;
  try {
    (void)read_block_scales(*source, inv, "/models/m", [](const ClassifiedTensor&, std::span<std::byte> out) {
      std::memset(out.data(), 0, out.size());
    });
    FAIL() << "12 bytes read as a grid of 4 floats";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/models/m/shard-2.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("w_scale_inv"), std::string::npos) << what;
    EXPECT_NE(what.find("1000"), std::string::npos) << what;
  }
}

// Token-mapped units take at most max_tokens rows and at most max_elements elements a table:
// the rows of a wide table are fewer, and the smaller sample is the start of the larger one
// (the tokens with the smallest hashes), so it does not depend on the cap.
TEST(PairModels, TokenMappedUnitsKeepTheirTablesUnderTheElementBudget) {
  const auto dir = lineage::testing::synth_suite() / "base";
  const auto inv = inventory_of(dir);
  const auto units_with = [&](const TokenMappedOptions& options) {
    PairResult pairs;
    add_token_mapped_units(pairs, {&inv, &inv}, options);
    std::vector<ComparisonUnit> mapped;
    for (auto& u : pairs.units) {
      if (u.kind == UnitKind::token_mapped) mapped.push_back(std::move(u));
    }
    return mapped;
  };
  const auto whole = units_with({});
  ASSERT_FALSE(whole.empty());
  const auto hidden = whole.front().cols;
  ASSERT_GT(whole.front().rows, 100u);
  TokenMappedOptions budget;
  budget.max_elements = 100 * hidden + hidden / 2;  // room for 100 rows, not 101
  const auto capped = units_with(budget);
  ASSERT_EQ(capped.size(), whole.size());
  for (std::size_t i = 0; i < capped.size(); ++i) {
    EXPECT_EQ(capped[i].rows, 100u);
    EXPECT_EQ(capped[i].rows_a.size(), 100u);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> small, large;
    for (std::size_t k = 0; k < capped[i].rows; ++k) small.emplace_back(capped[i].rows_a[k], capped[i].rows_b[k]);
    for (std::size_t k = 0; k < whole[i].rows; ++k) large.emplace_back(whole[i].rows_a[k], whole[i].rows_b[k]);
    std::sort(small.begin(), small.end());
    std::sort(large.begin(), large.end());
    EXPECT_TRUE(std::includes(large.begin(), large.end(), small.begin(), small.end()));
  }
  // Tables whose rows are empty (a header may say [V, 0]) get no unit and a note, and no
  // division by their width.
  auto empty_rows = inv;
  for (auto& t : empty_rows.tensors) {
    if (t.key.role == TensorRole::embedding || t.key.role == TensorRole::lm_head) t.shape.back() = 0;
  }
  PairResult pairs;
  add_token_mapped_units(pairs, {&empty_rows, &empty_rows}, {});
  EXPECT_TRUE(pairs.units.empty());
  ASSERT_FALSE(pairs.notes.empty());
  EXPECT_NE(pairs.notes.front().find("rows are empty"), std::string::npos) << pairs.notes.front();
}

TEST(PairModels, IndexOnlyInventoriesAreRejected) {
  static const auto reg = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  const auto dir = lineage::testing::synth_suite() / "base";
  const auto cfg = io::read_model_config(dir);
  const auto idx = build_inventory(io::list_checkpoint(dir, true), &*cfg, reg);
  EXPECT_THROW((void)pair_models({&idx, &idx}, {}), InputError);
}

}  // namespace
}  // namespace lineage::stages
