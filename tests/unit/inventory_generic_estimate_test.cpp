// The generic estimate (families/_generic_decoder.yaml, `estimate`): what plan reads a config.json from when no
// family names the model's tensors. On real configs that do have a family, the estimate must come within a few
// percent of the family's listing, so that the estimate for VAETKI or Omni-8B's decoder is as good as its config;
// and it must say plainly that its names are not the model's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/architecture/architecture_profile.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/expected_listing.hpp"
#include "stages/inventory/inventory.hpp"
#include "stages/plan/run_models.hpp"

namespace lineage {
namespace {

const FamilyRegistry& registry() {
  static const auto r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

nlohmann::json config_at(const std::string& relative) {
  return io::read_json_file(std::string(LINEAGE_SOURCE_DIR) + "/" + relative + "/config.json");
}

/// The family-based config-only inventory, as stages/plan/run_models.cpp builds it for plan.
stages::Inventory family_inventory(const nlohmann::json& config, const std::string& family) {
  auto listing =
      stages::expected_listing(stages::expand_family(registry(), family, config), registry().quantisation(), config);
  return stages::build_inventory(listing, &config, registry(), family);
}

double relative_gap(std::uint64_t estimate, std::uint64_t reference) {
  return std::abs(static_cast<double>(estimate) - static_cast<double>(reference)) / static_cast<double>(reference);
}

const stages::ClassifiedTensor& tensor(const stages::Inventory& inv, const std::string& name) {
  const auto it = std::find_if(inv.tensors.begin(), inv.tensors.end(), [&](const auto& t) { return t.name == name; });
  if (it == inv.tensors.end()) throw std::runtime_error("no tensor " + name);
  return *it;
}

using Shape = std::vector<std::uint64_t>;

TEST(GenericEstimate, DenseLlamaComesWithinOnePercentOfItsFamily) {
  const auto config = config_at("tests/data/real/mattshumer__Reflection-Llama-3.1-70B");
  const auto generic = stages::estimate_generic_inventory(config, registry(), "reflection");
  const auto family = family_inventory(config, "llama");
  EXPECT_LT(relative_gap(generic.total_bytes, family.total_bytes), 0.01)
      << generic.total_bytes << " vs " << family.total_bytes;
  EXPECT_LT(relative_gap(generic.total_params, family.total_params), 0.01);
  // GQA: 8 KV heads of 128 against 64 query heads.
  EXPECT_EQ(tensor(generic, "model.layers.79.self_attn.k_proj.weight").shape, (Shape{1024, 8192}));
  EXPECT_EQ(generic.tensors.size(), family.tensors.size());
}

TEST(GenericEstimate, MixtralExpertsTakeIntermediateSizeAsTheirWidth) {
  const auto config = config_at("tests/data/real/mistralai__Mixtral-8x7B-v0.1");
  const auto generic = stages::estimate_generic_inventory(config, registry(), "mixtral");
  const auto family = family_inventory(config, "mixtral");
  EXPECT_LT(relative_gap(generic.total_bytes, family.total_bytes), 0.01)
      << generic.total_bytes << " vs " << family.total_bytes;
  EXPECT_EQ(tensor(generic, "model.layers.31.mlp.experts.7.down_proj.weight").shape, (Shape{4096, 14336}));
  EXPECT_EQ(tensor(generic, "model.layers.0.mlp.gate.weight").key.role, TensorRole::router);
  ASSERT_TRUE(generic.experts && generic.top_k);
  EXPECT_EQ(*generic.experts, 8);
  EXPECT_EQ(*generic.top_k, 2);
  // Active parameters count 2 of 8 experts, as the family's do.
  EXPECT_LT(relative_gap(generic.active_params, family.active_params), 0.01);
}

TEST(GenericEstimate, DeepSeekV3MlaAndDensePrefixFromTheConfigKeys) {
  const auto config = config_at("tests/data/real/deepseek-ai__DeepSeek-V3");
  const auto generic = stages::estimate_generic_inventory(config, registry(), "dsv3");
  const auto family = family_inventory(config, "deepseek_v3");
  // The family adds the MTP block (one layer, about 2% of the parameters); the estimate has no MTP.
  EXPECT_LT(relative_gap(generic.total_params, family.total_params), 0.03)
      << generic.total_params << " vs " << family.total_params;
  EXPECT_LT(generic.total_params, family.total_params);
  EXPECT_EQ(tensor(generic, "model.layers.5.self_attn.kv_b_proj.weight").shape, (Shape{128 * (128 + 128), 512}));
  EXPECT_EQ(tensor(generic, "model.layers.5.self_attn.q_b_proj.weight").shape, (Shape{128 * 192, 1536}));
  EXPECT_EQ(tensor(generic, "model.layers.5.self_attn.kv_b_proj.weight").key.role, TensorRole::mla_kv_b);
  // first_k_dense_replace = 3: layers 0-2 dense, 3 on MoE with one shared expert.
  EXPECT_EQ(tensor(generic, "model.layers.2.mlp.gate_proj.weight").shape, (Shape{18432, 7168}));
  EXPECT_EQ(tensor(generic, "model.layers.3.mlp.shared_experts.up_proj.weight").shape, (Shape{2048, 7168}));
  EXPECT_THROW((void)tensor(generic, "model.layers.3.mlp.gate_proj.weight"), std::runtime_error);
}

TEST(GenericEstimate, SaysPlainlyThatItsNamesAreNotTheModels) {
  const auto config = config_at("cases/vaetki/suspect");
  const auto inv = stages::estimate_generic_inventory(config, registry(), "cases/vaetki/suspect");
  EXPECT_TRUE(inv.estimated);
  EXPECT_TRUE(inv.generic);
  EXPECT_EQ(inv.family, "generic_decoder");
  ASSERT_FALSE(inv.notes.empty());
  EXPECT_NE(inv.notes.front().find("GENERIC ESTIMATE"), std::string::npos) << inv.notes.front();
  EXPECT_NE(inv.notes.front().find("model_type vaetki"), std::string::npos) << inv.notes.front();
  EXPECT_NE(inv.notes.front().find("real weight map"), std::string::npos) << inv.notes.front();
  // VAETKI's seed values against its stated 112 B total (cases/vaetki/README.md).
  EXPECT_LT(relative_gap(inv.total_params, 112'000'000'000ULL), 0.01) << inv.total_params;
}

TEST(GenericEstimate, CompositeReadsItsTextDecoderAndNamesTheTowersLeftOut) {
  const auto config = config_at("cases/hyperclovax-seed-omni-8b/suspect");
  const auto inv = stages::estimate_generic_inventory(config, registry(), "omni");
  EXPECT_EQ(tensor(inv, "model.layers.35.mlp.down_proj.weight").shape, (Shape{4096, 12288}));
  EXPECT_EQ(tensor(inv, "model.embed_tokens.weight").shape, (Shape{200704, 4096}));
  EXPECT_EQ(inv.tensors.size(), 327U);  // seed 002's tensor count for the language model
  ASSERT_EQ(inv.notes.size(), 2U);
  EXPECT_NE(inv.notes.front().find("text decoder from text_config"), std::string::npos) << inv.notes.front();
  EXPECT_NE(inv.notes.back().find("vision_config"), std::string::npos) << inv.notes.back();
}

/// The `.weight_scale_inv` companions of `listing`.
std::size_t fp8_scales(const TensorListing& listing) {
  return static_cast<std::size_t>(
      std::count_if(listing.tensors.begin(), listing.tensors.end(),
                    [](const ListedTensor& t) { return t.name.ends_with(".weight_scale_inv"); }));
}

// A quantised release's listing (Kimi-K2, DeepSeek-V3 and Qwen3.5-FP8 store a block FP8 scale
// beside each converted projection) is made at its size, companions counted: grown by doubling,
// it held up to twice its entries at the plan's peak. The modules a release keeps unconverted
// (Qwen3.5-FP8 lists 321) have no scale, so they count none.
TEST(ExpectedListing, QuantisedReleasesListingIsMadeAtItsSize) {
  for (const auto* dir : {"tests/data/real/moonshotai__Kimi-K2-Instruct", "tests/data/real/deepseek-ai__DeepSeek-V3",
                          "tests/data/real/Qwen__Qwen3.5-122B-A10B-FP8"}) {
    const auto config = config_at(dir);
    const auto* family = stages::select_family_by_config(registry(), config);
    ASSERT_NE(family, nullptr) << dir;
    const auto expected = stages::expand_family(registry(), family->id, config);
    const auto listing = stages::expected_listing(expected, registry().quantisation(), config);
    const auto required =
        std::count_if(expected.begin(), expected.end(), [](const stages::ExpectedTensor& t) { return !t.optional; });
    EXPECT_GT(fp8_scales(listing), 10'000u) << dir;
    EXPECT_EQ(listing.tensors.size(), static_cast<std::size_t>(required) + fp8_scales(listing)) << dir;
    // Room for what it holds, not the doubling's (a reservation may round up a little).
    EXPECT_LT(listing.tensors.capacity(), listing.tensors.size() + 16) << dir;
    const auto& quantisation = config.at("quantization_config");
    if (!quantisation.contains("modules_to_not_convert")) continue;
    std::set<std::string> kept_scales;
    for (const auto& kept : quantisation.at("modules_to_not_convert")) {
      kept_scales.insert(kept.get<std::string>() + ".weight_scale_inv");
    }
    for (const auto& t : listing.tensors) EXPECT_EQ(kept_scales.count(t.name), 0u) << t.name;
    auto all_converted = config;
    all_converted.at("quantization_config").erase("modules_to_not_convert");
    const auto more = stages::expected_listing(expected, registry().quantisation(), all_converted);
    EXPECT_GT(fp8_scales(more), fp8_scales(listing)) << dir;
    EXPECT_LT(more.tensors.capacity(), more.tensors.size() + 16) << dir;
  }
}

// A folder holding config.json alone is planned from its family, the one the architecture profile
// names (found without the profile, which counts parameters through an inventory of its own):
// the same family and the same tensors as the family's listing for that config.
TEST(ExpectedListing, ConfigOnlyFoldersAreReadAsTheProfilesFamily) {
  for (const auto* dir :
       {"tests/data/real/moonshotai__Kimi-K2-Instruct", "tests/data/real/Qwen__Qwen3.5-122B-A10B-FP8"}) {
    const auto folder = std::string(LINEAGE_SOURCE_DIR) + "/" + dir;
    RunConfig run;
    run.suspect = folder;
    const auto models = stages::load_run_models(run, registry(), true);
    ASSERT_EQ(models.size(), 1u);
    const auto& m = models.front();
    EXPECT_TRUE(m.config_only) << dir;
    const auto config = config_at(dir);
    const auto family = stages::profile_architecture(config, registry(), folder).family;
    ASSERT_FALSE(family.empty()) << dir;
    EXPECT_EQ(m.inventory.family, family) << dir;
    EXPECT_FALSE(m.inventory.estimated) << dir;
    const auto want = family_inventory(config, family);
    EXPECT_EQ(m.inventory.tensors.size(), want.tensors.size()) << dir;
    EXPECT_EQ(m.inventory.total_bytes, want.total_bytes) << dir;
  }
}

}  // namespace
}  // namespace lineage
