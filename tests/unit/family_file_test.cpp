// Loads every family file shipped in families/ and checks the definitions themselves: each
// loads, expands for a representative config without two entries claiming one name, and the
// loader rejects malformed definitions with a useful key path.
#include "io/family_file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/hf_config.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/inventory.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

const std::filesystem::path kFamilies = std::string(LINEAGE_SOURCE_DIR) + "/families";
const std::filesystem::path kReal = std::string(LINEAGE_TEST_DATA_DIR) + "/real";

TEST(FamilyFiles, EveryShippedFileLoadsAndCrossReferencesResolve) {
  const auto reg = io::load_family_registry(kFamilies);
  EXPECT_GE(reg.all().size(), 30u);
  EXPECT_GE(reg.companion_rules().size(), 3u);
  for (const char* required : {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3_moe", "deepseek_v2",
                               "deepseek_v3", "glm4_moe", "phimoe", "gpt_oss", "llama4", "granitemoe", "dbrx"}) {
    EXPECT_NE(reg.find(required), nullptr) << required;
  }
}

TEST(FamilyFiles, EveryFamilyExpandsForARealConfigWithoutDuplicateNames) {
  const auto reg = io::load_family_registry(kFamilies);
  // Real configs exercise the families that select them; expansion throws on duplicate names.
  for (const auto& entry : std::filesystem::directory_iterator(kReal)) {
    if (!entry.is_directory()) continue;
    const auto cfg = io::read_model_config(entry.path());
    if (!cfg) continue;
    const auto* spec = stages::select_family_by_config(reg, *cfg);
    ASSERT_NE(spec, nullptr) << entry.path();
    const auto bound = stages::bind_family(reg, *spec, *cfg, nullptr);
    const auto exp = stages::expand_bound_family(bound);
    EXPECT_GT(exp.tensors.size(), 0u) << entry.path();
    // Every expected tensor is found by its own name, at its own place.
    for (std::size_t i = 0; i < exp.tensors.size(); ++i) {
      const auto at = exp.find(exp.tensors[i].name);
      ASSERT_TRUE(at.has_value()) << entry.path() << ": " << exp.tensors[i].name;
      EXPECT_EQ(*at, i) << entry.path() << ": " << exp.tensors[i].name;
    }
    EXPECT_FALSE(exp.find(exp.tensors.front().name + "x").has_value()) << entry.path();
  }
}

void write(const std::filesystem::path& p, const std::string& text) { lineage::testing::write_bytes(p, text); }

TEST(FamilyFiles, LoaderRejectsBadDefinitionsWithKeyPaths) {
  lineage::testing::TempDir d;
  const auto f = d.path() / "toy.yaml";
  auto error_for = [&](const std::string& body) {
    write(f, body);
    return lineage::testing::error_of([&] { (void)io::read_family_file(f); });
  };
  EXPECT_NE(error_for("family: toy\ntensors:\n  - {role: mlp.gate, name: a, shape: [1]}\n")
                .find("toy.yaml:tensors[0].role: unknown role 'mlp.gate'"),
            std::string::npos);
  EXPECT_NE(error_for("family: toy\ntensors:\n  - {role: router, name: a, shape: [1], colour: red}\n")
                .find("tensors[0].colour: unknown key"),
            std::string::npos);
  EXPECT_NE(error_for("family: toy\nvariants: []\nmatch: {archs: [X]}\n").find("match.archs: unknown key"),
            std::string::npos);
  EXPECT_NE(error_for("family: other\n").find("must equal the file name"), std::string::npos);
  EXPECT_NE(error_for("family: toy\ntensors:\n  - {role: router, name: \"a.{layr}\", shape: [1]}\n")
                .find("unknown placeholder {layr}"),
            std::string::npos);
  EXPECT_NE(error_for("family: toy\ntensors:\n  - {role: router, name: a, shape: [\"1 +\"]}\n").find("shape[0]"),
            std::string::npos);
  EXPECT_NE(error_for("family: toy\ntensors:\n  - {role: router, name: a}\n").find("shape"), std::string::npos);
}

/// The error expanding family "dup" (its `tensors:` entries given, one per line) for a config of
/// two layers.
std::string expansion_error(const std::vector<std::string>& entries) {
  lineage::testing::TempDir d;
  std::string yaml = "family: dup\nvars: {layers: num_hidden_layers}\ntensors:\n";
  for (const auto& e : entries) yaml += "  - " + e + "\n";
  write(d.path() / "dup.yaml", yaml);
  const auto reg = io::load_family_registry(d.path());
  const nlohmann::json cfg = {{"num_hidden_layers", 2}};
  return lineage::testing::error_of([&] { (void)stages::expand_family(reg, "dup", cfg); });
}

TEST(FamilyFiles, TwoEntriesClaimingOneNameIsADefinitionError) {
  const auto msg = expansion_error({
      R"({role: attn_norm, name: "model.layers.{layer}.norm.weight", shape: [4]})",
      R"({role: mlp_norm, name: "model.layers.{layer}.norm.weight", shape: [4], when: "layer > 0"})",
  });
  EXPECT_NE(msg.find("produces 'model.layers.1.norm.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensors[0]"), std::string::npos) << msg;
}

TEST(FamilyFiles, OfSeveralRepeatedNamesTheFirstRepeatedIsReported) {
  // Produced in order: x.0 x.1 (a), y.0 y.1 (b), y.0 y.1 (c), x.0 x.1 (d): y.0 is the first name
  // produced a second time, whatever order the names' index keeps.
  const auto msg = expansion_error({
      R"({role: attn_norm, name: "x.{layer}", shape: [4]})",
      R"({role: mlp_norm, name: "y.{layer}", shape: [4]})",
      R"({role: final_norm, name: "y.{layer}", shape: [4]})",
      R"({role: router, name: "x.{layer}", shape: [4]})",
  });
  EXPECT_NE(msg.find("tensors[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("produces 'y.0', which "), std::string::npos) << msg;
  EXPECT_NE(msg.find("dup.yaml:tensors[1] produces too"), std::string::npos) << msg;
}

TEST(FamilyFiles, ARepeatedNameIsReportedBeforeALaterEntrysError) {
  // The last entry's shape names a variable nothing defines: an error, but after x.0 was
  // produced twice, which is the first problem.
  const auto repeated = expansion_error({
      R"({role: attn_norm, name: "x.{layer}", shape: [4]})",
      R"({role: mlp_norm, name: "x.{layer}", shape: [4]})",
      R"({role: router, name: "z.{layer}", shape: [undefined_width]})",
  });
  EXPECT_NE(repeated.find("produces 'x.0', which "), std::string::npos) << repeated;
  // Without the repeat, the later error is the one reported.
  const auto later = expansion_error({
      R"({role: attn_norm, name: "x.{layer}", shape: [4]})",
      R"({role: router, name: "z.{layer}", shape: [undefined_width]})",
  });
  EXPECT_NE(later.find("undefined_width"), std::string::npos) << later;
}

TEST(FamilyFiles, UnknownMountedFamilyFailsAtLoad) {
  lineage::testing::TempDir d;
  write(d.path() / "outer.yaml", "family: outer\nmounts:\n  - {family: nowhere, component: vision}\n");
  const auto msg = lineage::testing::error_of([&] { (void)io::load_family_registry(d.path()); });
  EXPECT_NE(msg.find("mounts unknown family 'nowhere'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lineage

namespace lineage {
namespace {

/// Families with no real config in tests/data/real: a minimal config in their own spelling must
/// select them, expand, and classify their own expansion completely (every name claimed, the
/// keys right, stacked experts split into views).
TEST(FamilyFiles, FamiliesWithoutRealConfigsRoundTripTheirOwnNames) {
  const auto reg = io::load_family_registry(kFamilies);
  const nlohmann::json base = {{"hidden_size", 16},        {"num_hidden_layers", 2}, {"num_attention_heads", 2},
                               {"num_key_value_heads", 1}, {"vocab_size", 32},       {"intermediate_size", 24}};
  auto with = [&](nlohmann::json extra) {
    auto c = base;
    c.update(extra);
    return c;
  };
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"mistral", with({{"architectures", {"MistralForCausalLM"}}})},
      {"qwen2", with({{"architectures", {"Qwen2ForCausalLM"}}})},
      {"qwen2_moe", with({{"architectures", {"Qwen2MoeForCausalLM"}},
                          {"num_experts", 4},
                          {"num_experts_per_tok", 2},
                          {"moe_intermediate_size", 8},
                          {"shared_expert_intermediate_size", 8}})},
      {"phimoe",
       with({{"architectures", {"PhiMoEForCausalLM"}}, {"num_local_experts", 4}, {"num_experts_per_tok", 2}})},
      {"olmoe", with({{"architectures", {"OlmoeForCausalLM"}}, {"num_experts", 4}, {"num_experts_per_tok", 2}})},
      {"dbrx",
       {{"architectures", {"DbrxForCausalLM"}},
        {"d_model", 16},
        {"n_layers", 2},
        {"n_heads", 2},
        {"vocab_size", 32},
        {"attn_config", {{"kv_n_heads", 1}}},
        {"ffn_config", {{"moe_num_experts", 4}, {"moe_top_k", 2}, {"ffn_hidden_size", 8}}}}},
      {"llama4",
       {{"architectures", {"Llama4ForConditionalGeneration"}},
        {"text_config", with({{"num_local_experts", 4},
                              {"num_experts_per_tok", 1},
                              {"intermediate_size_mlp", 32},
                              {"interleave_moe_layer_step", 2}})}}},
  };
  for (const auto& [family, cfg] : cases) {
    const auto* spec = stages::select_family_by_config(reg, cfg);
    ASSERT_NE(spec, nullptr) << family;
    EXPECT_EQ(spec->id, family);
    TensorListing listing;
    listing.index_only = true;
    for (const auto& t : stages::expand_family(reg, family, cfg)) {
      if (!t.optional) listing.tensors.push_back({t.name, "m.safetensors", std::nullopt, std::nullopt, 0, 0});
    }
    const auto inv = stages::build_inventory(listing, &cfg, reg);
    EXPECT_TRUE(inv.clean()) << family;
    EXPECT_EQ(inv.tensors.size(), listing.tensors.size()) << family;
    EXPECT_GT(inv.total_params, 0u) << family;
    if (family == "llama4") {
      // Layer 1 is MoE (step 2): stacked gate_up splits into gate and up views of 4 experts.
      std::size_t views = 0;
      for (const auto& v : inv.views) views += v.key.layer == 1 ? 1 : 0;
      EXPECT_EQ(views, 4u * 2 + 4u);  // gate + up per expert, plus down
      bool dense0 = false;
      for (const auto& t : inv.tensors) dense0 |= t.key.layer == 0 && t.key.role == TensorRole::dense_mlp;
      EXPECT_TRUE(dense0);
    }
  }
}

}  // namespace
}  // namespace lineage
