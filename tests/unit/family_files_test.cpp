// Loads every family file shipped in families/ and checks the definitions themselves: each
// loads, expands for a representative config without two entries claiming one name, and the
// loader rejects malformed definitions with a useful key path.
#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/inventory.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

const std::filesystem::path kFamilies = std::string(LINEAGE_SOURCE_DIR) + "/families";
const std::filesystem::path kReal = std::string(LINEAGE_SHARED_DATA_DIR) + "/real";

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
    EXPECT_EQ(exp.tensors.size(), exp.by_name.size()) << entry.path();
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

TEST(FamilyFiles, TwoEntriesClaimingOneNameIsADefinitionError) {
  lineage::testing::TempDir d;
  write(d.path() / "dup.yaml",
        "family: dup\nvars: {layers: num_hidden_layers}\ntensors:\n"
        "  - {role: attn_norm, name: \"model.layers.{layer}.norm.weight\", shape: [4]}\n"
        "  - {role: mlp_norm, name: \"model.layers.{layer}.norm.weight\", shape: [4], when: \"layer > 0\"}\n");
  const auto reg = io::load_family_registry(d.path());
  const nlohmann::json cfg = {{"num_hidden_layers", 2}};
  const auto msg = lineage::testing::error_of([&] { (void)stages::expand_family(reg, "dup", cfg); });
  EXPECT_NE(msg.find("produces 'model.layers.1.norm.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensors[0]"), std::string::npos) << msg;
}

TEST(FamilyFiles, UnknownMountedFamilyFailsAtLoad) {
  lineage::testing::TempDir d;
  write(d.path() / "outer.yaml", "family: outer\nmounts:\n  - {family: nowhere, component: vision}\n");
  const auto msg = lineage::testing::error_of([&] { (void)io::load_family_registry(d.path()); });
  EXPECT_NE(msg.find("mounts unknown family 'nowhere'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lineage
