#include "stages/inventory/inventory.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "io/checkpoint_listing.hpp"
#include "io/family_file.hpp"
#include "io/safetensors_writer.hpp"
#include "stages/inventory/expand_family.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage::stages {
namespace {

const FamilyRegistry& registry() {
  static const auto reg = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return reg;
}

/// Writes every expected tensor as F32 whose value at element i is i (so views can be checked).
void write_checkpoint(const std::filesystem::path& dir, const std::vector<ExpectedTensor>& tensors,
                      const nlohmann::json& config, const std::string& bad_shape_name = {}) {
  std::vector<std::vector<std::byte>> storage;
  std::vector<io::TensorToWrite> out;
  for (const auto& t : tensors) {
    auto shape = t.shape;
    if (t.name == bad_shape_name) shape.back() += 1;
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(n);
    for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
    auto& b = storage.emplace_back(n * 4);
    std::memcpy(b.data(), v.data(), b.size());
    out.push_back({t.name, Dtype::F32, shape, b});
  }
  io::write_safetensors(dir / "model.safetensors", out);
  lineage::testing::write_bytes(dir / "config.json", config.dump());
}

nlohmann::json tiny_gpt_oss() {
  return {{"architectures", {"GptOssForCausalLM"}},
          {"model_type", "gpt_oss"},
          {"hidden_size", 8},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"num_key_value_heads", 1},
          {"head_dim", 4},
          {"vocab_size", 16},
          {"intermediate_size", 6},
          {"num_local_experts", 3},
          {"num_experts_per_tok", 2},
          {"tie_word_embeddings", false}};
}

TEST(InventoryStage, FusedInterleavedTransposedExpertsBecomeStridedViews) {
  lineage::testing::TempDir d;
  const auto cfg = tiny_gpt_oss();
  write_checkpoint(d.path(), expand_family(registry(), "gpt_oss", cfg, "bf16"), cfg);
  const auto inv = build_inventory(io::list_checkpoint(d.path(), false), &cfg, registry());
  ASSERT_TRUE(inv.clean()) << (inv.unclaimed.empty() ? "" : inv.unclaimed.front());
  EXPECT_EQ(inv.family, "gpt_oss");
  EXPECT_EQ(inv.choices, std::vector<std::string>{"variant bf16"});
  // gate_up_proj [E=3, d=8, 2I=12] stored [in, out], gate/up interleaved along out.
  const std::uint64_t d_model = 8, two_i = 12, I = 6;
  int checked = 0;
  for (const auto& v : inv.views) {
    const auto& t = inv.tensors[v.tensor];
    if (t.name != "model.layers.1.mlp.experts.gate_up_proj") continue;
    ASSERT_EQ(v.rows, I);
    ASSERT_EQ(v.cols, d_model);
    const auto e = static_cast<std::uint64_t>(v.key.expert);
    const std::uint64_t parity = v.key.projection == Projection::gate ? 0 : 1;
    for (std::uint64_t r = 0; r < v.rows; ++r) {
      for (std::uint64_t c = 0; c < v.cols; ++c) {
        // HF [out, in] element (out = 2r + parity, in = c) is stored at [e][c][2r + parity].
        EXPECT_EQ(v.offset + r * v.row_stride + c * v.col_stride, e * d_model * two_i + c * two_i + 2 * r + parity);
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);  // 3 experts x (gate, up)
  // down_proj [E, I, d] stored [in, out]: view rows = d (out), cols = I (in).
  for (const auto& v : inv.views) {
    if (inv.tensors[v.tensor].name != "model.layers.0.mlp.experts.down_proj") continue;
    EXPECT_EQ(v.rows, d_model);
    EXPECT_EQ(v.cols, I);
    EXPECT_EQ(v.offset + 2 * v.row_stride + 5 * v.col_stride,
              static_cast<std::uint64_t>(v.key.expert) * I * d_model + 5 * d_model + 2);
  }
  // Active parameters count routed experts at top_k / experts = 2/3.
  EXPECT_LT(inv.active_params, inv.total_params);
}

TEST(InventoryStage, ConcatenatedGateUpSplitsIntoHalves) {
  lineage::testing::TempDir d;
  nlohmann::json cfg = {{"architectures", {"GraniteMoeForCausalLM"}},
                        {"hidden_size", 8},
                        {"num_hidden_layers", 1},
                        {"num_attention_heads", 2},
                        {"num_key_value_heads", 2},
                        {"vocab_size", 16},
                        {"intermediate_size", 4},
                        {"num_local_experts", 2},
                        {"num_experts_per_tok", 1},
                        {"tie_word_embeddings", true}};
  write_checkpoint(d.path(), expand_family(registry(), "granitemoe", cfg), cfg);
  const auto inv = build_inventory(io::list_checkpoint(d.path(), false), &cfg, registry());
  ASSERT_TRUE(inv.clean());
  // input_linear [E=2, 2I=8, d=8], not transposed: gate rows 0..3, up rows 4..7 of each expert.
  for (const auto& v : inv.views) {
    if (inv.tensors[v.tensor].name != "model.layers.0.block_sparse_moe.input_linear.weight") continue;
    const auto base = static_cast<std::uint64_t>(v.key.expert) * 64;
    EXPECT_EQ(v.rows, 4u);
    EXPECT_EQ(v.row_stride, 8u);
    EXPECT_EQ(v.col_stride, 1u);
    EXPECT_EQ(v.offset, base + (v.key.projection == Projection::up ? 32u : 0u));
  }
}

TEST(InventoryStage, ShapeMismatchesUnclaimedAndMissingAreReported) {
  lineage::testing::TempDir d;
  const auto cfg = tiny_gpt_oss();
  auto tensors = expand_family(registry(), "gpt_oss", cfg, "bf16");
  const std::string dropped = tensors.back().name;
  tensors.pop_back();
  ExpectedTensor stray;
  stray.name = "model.layers.0.mystery_adapter.weight";
  stray.shape = {2, 2};
  tensors.push_back(stray);
  write_checkpoint(d.path(), tensors, cfg, "model.layers.0.self_attn.q_proj.weight");
  const auto inv = build_inventory(io::list_checkpoint(d.path(), false), &cfg, registry());
  EXPECT_FALSE(inv.clean());
  ASSERT_EQ(inv.unclaimed.size(), 1u);
  EXPECT_EQ(inv.unclaimed[0], "model.layers.0.mystery_adapter.weight");
  ASSERT_EQ(inv.required_missing.size(), 1u);
  EXPECT_EQ(inv.required_missing[0], dropped);
  ASSERT_EQ(inv.shape_mismatches.size(), 1u);
  EXPECT_EQ(inv.shape_mismatches[0].expected, (std::vector<std::uint64_t>{8, 8}));
  EXPECT_EQ(inv.shape_mismatches[0].actual, (std::vector<std::uint64_t>{8, 9}));
}

TEST(InventoryStage, QuantisationCompanionsJoinTheirWeight) {
  // Index-only listing of a llama with bitsandbytes companions: SCB is a scale of its weight and
  // the weight's stored dtype becomes I8.
  TensorListing l;
  l.index_only = true;
  nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}},
                        {"hidden_size", 8},
                        {"num_hidden_layers", 1},
                        {"num_attention_heads", 2},
                        {"vocab_size", 16},
                        {"intermediate_size", 12},
                        {"torch_dtype", "float16"}};
  for (const auto& t : expand_family(registry(), "llama", cfg)) {
    if (t.optional) continue;
    l.tensors.push_back({t.name, "m.safetensors", std::nullopt, std::nullopt, 0, 0});
  }
  l.tensors.push_back({"model.layers.0.mlp.up_proj.SCB", "m.safetensors", std::nullopt, std::nullopt, 0, 0});
  const auto inv = build_inventory(l, &cfg, registry());
  ASSERT_TRUE(inv.clean());
  bool found = false;
  for (const auto& t : inv.tensors) {
    if (t.name == "model.layers.0.mlp.up_proj.SCB") {
      found = true;
      EXPECT_EQ(t.key.kind, ParamKind::scale);
      EXPECT_EQ(t.key.role, TensorRole::dense_mlp);
      EXPECT_EQ(t.key.projection, Projection::up);
      EXPECT_EQ(t.shape, std::vector<std::uint64_t>{12});
    }
    if (t.name == "model.layers.0.mlp.up_proj.weight") {
      EXPECT_EQ(t.dtype, Dtype::I8);
    }
    if (t.name == "model.layers.0.mlp.gate_proj.weight") {
      EXPECT_EQ(t.dtype, Dtype::F16);
    }
  }
  EXPECT_TRUE(found);
}

TEST(InventoryStage, FamilyWithoutConfigIsChosenByNames) {
  TensorListing l;
  l.index_only = true;
  for (const char* n :
       {"model.embed_tokens.weight", "model.layers.0.block_sparse_moe.gate.weight",
        "model.layers.0.block_sparse_moe.experts.0.w1.weight", "model.layers.0.block_sparse_moe.experts.0.w2.weight"}) {
    l.tensors.push_back({n, "a.safetensors", std::nullopt, std::nullopt, 0, 0});
  }
  const auto inv = build_inventory(l, nullptr, registry());
  EXPECT_EQ(inv.family, "mixtral");
  EXPECT_NE(inv.family_reason.find("tensor names"), std::string::npos);
  EXPECT_TRUE(inv.unclaimed.empty());
  EXPECT_EQ(inv.tensors[2].key.expert, 0);
  EXPECT_EQ(inv.tensors[2].key.projection, Projection::gate);  // w1 is the gate
}

}  // namespace
}  // namespace lineage::stages
