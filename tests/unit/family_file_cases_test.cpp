// The families written for the disputed systems (cases/): each expands the case's seed config into the layout
// transformers' modeling code gives it. Dense and MoE layers, the extra norms and the composite's prefixes are
// checked by name and shape, so a wrong predicate or prefix fails here rather than only shifting a plan's size.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/architecture/architecture_profile.hpp"
#include "stages/inventory/expand_family.hpp"

namespace lineage {
namespace {

const FamilyRegistry& registry() {
  static const auto r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

nlohmann::json case_config(const std::string& name) {
  return io::read_json_file(std::string(LINEAGE_SOURCE_DIR) + "/cases/" + name + "/suspect/config.json");
}

/// name -> shape of every tensor the family expects for the case's seed config.
std::map<std::string, std::vector<std::uint64_t>> expand(const std::string& family, const std::string& name) {
  std::map<std::string, std::vector<std::uint64_t>> out;
  for (const auto& t : stages::expand_family(registry(), family, case_config(name))) out[t.name] = t.shape;
  return out;
}

using Shape = std::vector<std::uint64_t>;

TEST(CaseFamilies, ExaoneMoeHasADenseFirstLayerThenSharedAndRoutedExperts) {
  EXPECT_EQ(stages::profile_architecture(case_config("k-exaone"), registry(), "k-exaone").family, "exaone_moe");
  const auto t = expand("exaone_moe", "k-exaone");
  EXPECT_EQ(t.at("model.layers.0.mlp.gate_proj.weight"), (Shape{18432, 6144}));
  EXPECT_FALSE(t.contains("model.layers.0.mlp.gate.weight"));
  EXPECT_EQ(t.at("model.layers.1.mlp.gate.weight"), (Shape{128, 6144}));
  EXPECT_EQ(t.at("model.layers.47.mlp.experts.127.down_proj.weight"), (Shape{6144, 2048}));
  EXPECT_EQ(t.at("model.layers.47.mlp.shared_experts.up_proj.weight"), (Shape{2048, 6144}));
  EXPECT_FALSE(t.contains("model.layers.1.mlp.gate_proj.weight"));
  EXPECT_EQ(t.at("model.layers.3.self_attn.k_norm.weight"), (Shape{128}));
  EXPECT_EQ(t.at("model.layers.3.self_attn.k_proj.weight"), (Shape{8 * 128, 6144}));
  EXPECT_FALSE(t.contains("model.layers.48.input_layernorm.weight"));
}

TEST(CaseFamilies, AxK1AddsAPostMoeNormToDeepSeekV3Names) {
  EXPECT_EQ(stages::profile_architecture(case_config("ax-k1"), registry(), "ax-k1").family, "axk1");
  const auto t = expand("axk1", "ax-k1");
  // first_k_dense_replace is not in the seeds: AXK1Config's default 1.
  EXPECT_TRUE(t.contains("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_FALSE(t.contains("model.layers.0.post_mlp_layernorm.weight"));
  EXPECT_EQ(t.at("model.layers.1.post_mlp_layernorm.weight"), (Shape{7168}));
  EXPECT_EQ(t.at("model.layers.60.mlp.experts.191.gate_proj.weight"), (Shape{2560, 7168}));
  // MLA with AXK1Config's default head dims (128 + 64 for q/k, 128 for v).
  EXPECT_EQ(t.at("model.layers.5.self_attn.q_b_proj.weight"), (Shape{64 * 192, 1536}));
  EXPECT_EQ(t.at("model.layers.5.self_attn.kv_a_proj_with_mqa.weight"), (Shape{512 + 64, 7168}));
  EXPECT_EQ(t.at("model.layers.5.self_attn.kv_b_proj.weight"), (Shape{64 * 256, 512}));
  EXPECT_TRUE(t.contains("model.layers.1.mlp.gate.e_score_correction_bias"));
}

TEST(CaseFamilies, SolarOpenIsMoeOnEveryLayer) {
  EXPECT_EQ(stages::profile_architecture(case_config("solar-open-100b"), registry(), "solar").family, "solar_open");
  const auto t = expand("solar_open", "solar-open-100b");
  EXPECT_EQ(t.at("model.layers.0.mlp.gate.weight"), (Shape{128, 4096}));
  EXPECT_FALSE(t.contains("model.layers.0.mlp.gate_proj.weight"));
  // head_dim absent from the seed config: SolarOpenConfig's 128, not 4096 / 64.
  EXPECT_EQ(t.at("model.layers.0.self_attn.q_proj.weight"), (Shape{64 * 128, 4096}));
  EXPECT_EQ(t.at("model.layers.47.mlp.experts.127.up_proj.weight"), (Shape{1280, 4096}));
  EXPECT_FALSE(t.contains("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(t.contains("model.layers.0.self_attn.q_norm.weight"));
}

TEST(CaseFamilies, HcxVisionV2MountsTheDecoderUnderLanguageModel) {
  EXPECT_EQ(stages::profile_architecture(case_config("hyperclovax-seed-think-32b"), registry(), "hcx").family,
            "hcx_vision_v2");
  const auto t = expand("hcx_vision_v2", "hyperclovax-seed-think-32b");
  EXPECT_EQ(t.at("model.language_model.layers.71.mlp.up_proj.weight"), (Shape{24192, 5120}));
  EXPECT_EQ(t.at("model.language_model.layers.0.self_attn.k_proj.weight"), (Shape{8 * 128, 5120}));
  EXPECT_EQ(t.at("model.language_model.embed_tokens.weight"), (Shape{128256, 5120}));
  EXPECT_EQ(t.at("lm_head.weight"), (Shape{128256, 5120}));
  EXPECT_EQ(t.at("model.projector.weight"), (Shape{5120, 5120}));
  EXPECT_FALSE(t.contains("model.language_model.layers.0.post_norm1.weight"));  // use_post_norm not set
}

TEST(CaseFamilies, NoFamilyIsGuessedForVaetkiOrOmni) {
  for (const char* name : {"vaetki", "hyperclovax-seed-omni-8b"}) {
    EXPECT_TRUE(stages::profile_architecture(case_config(name), registry(), name).family.empty()) << name;
  }
}

}  // namespace
}  // namespace lineage
