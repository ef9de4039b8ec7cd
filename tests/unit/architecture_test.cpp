// lineage arch: profiles of every real config (parameter totals against the weight maps,
// attention type and MoE layout against the config itself), the core-key rubric, the compute
// estimate, towers, breadcrumbs and the catalogue of public architectures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/errors.hpp"
#include "io/catalog_file.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "stages/architecture/architecture_profile.hpp"
#include "stages/architecture/catalog_ranking.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

namespace fs = std::filesystem;
const fs::path kReal = std::string(LINEAGE_TEST_DATA_DIR) + "/real";
const fs::path kCatalog = std::string(LINEAGE_SOURCE_DIR) + "/catalog";

const FamilyRegistry& registry() {
  static const auto r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

std::vector<std::string> real_configs() {
  std::vector<std::string> out;
  for (const auto& d : fs::directory_iterator(kReal)) {
    if (fs::exists(d.path() / "config.json")) out.push_back(d.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The text decoder's config: composites nest it under text_config / language_config.
const nlohmann::json& text_config(const nlohmann::json& c) {
  for (const char* k : {"text_config", "language_config", "llm_config"}) {
    if (c.contains(k) && c[k].is_object() && c[k].contains("num_attention_heads")) return c[k];
  }
  return c;
}

std::string value(const stages::ArchitectureProfile& p, const std::string& key) {
  const auto* f = p.fact(key);
  return f ? f->value : "(no row)";
}

class RealConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(RealConfig, ParametersAttentionAndMoeLayoutAgreeWithTheFiles) {
  const auto dir = kReal / GetParam();
  const auto config = io::read_json_file(dir / "config.json");
  const auto p = stages::profile_architecture(config, registry(), dir.string());
  ASSERT_FALSE(p.family.empty()) << GetParam();
  ASSERT_TRUE(p.total_params.has_value()) << (p.notes.empty() ? "" : p.notes.front());
  ASSERT_TRUE(p.active_params.has_value());
  EXPECT_LE(*p.active_params, *p.total_params);

  // Parameter totals (as stored bytes at the config's dtypes) within 1% of the weight map.
  const auto index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    const auto meta = io::read_json_file(index).value("metadata", nlohmann::json::object());
    const auto total_size = meta.value("total_size", std::uint64_t{0});
    if (total_size > 0) {  // Cosmos-Reason2 ships total_size 0: nothing to compare
      EXPECT_NEAR(static_cast<double>(*p.total_bytes) / static_cast<double>(total_size), 1.0, 0.01)
          << "derived " << *p.total_bytes << " bytes, weight map says " << total_size;
    }
    if (meta.contains("total_parameters")) {
      auto want = meta["total_parameters"].get<double>();
      // medgemma's total_parameters counts its tied lm_head as a second matrix (its total_size,
      // matched above, stores it once): subtract it where the embeddings are tied (Gemma 3 ties
      // them by default, without a config key).
      const auto& tc = text_config(config);
      if (value(p, "tie_word_embeddings") == "true" &&
          std::abs(want - static_cast<double>(*p.total_params)) > 0.01 * want) {
        want -= tc["vocab_size"].get<double>() * tc["hidden_size"].get<double>();
      }
      EXPECT_NEAR(static_cast<double>(*p.total_params) / want, 1.0, 0.01);
    }
  }

  // Attention type by the METHODS §8 rule, computed here from the raw config.
  const auto& t = text_config(config);
  if (t.contains("num_attention_heads")) {
    std::string want;
    if (t.contains("kv_lora_rank") && !t["kv_lora_rank"].is_null()) {
      want = "MLA";
    } else {
      const auto h = t["num_attention_heads"].get<std::int64_t>();
      const auto kv = t.contains("num_key_value_heads") && !t["num_key_value_heads"].is_null()
                          ? t["num_key_value_heads"].get<std::int64_t>()
                      : t.contains("num_kv_heads") ? t["num_kv_heads"].get<std::int64_t>()
                                                   : h;
      want = kv == h ? "MHA" : kv == 1 ? "MQA" : "GQA";
    }
    EXPECT_EQ(p.attention_type, want);
  }
  // MoE layout: routed experts, top-k and shared experts as the config spells them.
  std::string experts = "-";
  for (const char* k : {"n_routed_experts", "num_experts", "num_local_experts"}) {
    if (t.contains(k) && t[k].is_number_integer() && t[k].get<std::int64_t>() > 0)
      experts = std::to_string(t[k].get<std::int64_t>());
  }
  EXPECT_EQ(value(p, "routed experts"), experts);
  EXPECT_EQ(p.moe, experts != "-");
  if (p.moe) {
    EXPECT_EQ(value(p, "experts per token"), std::to_string(t["num_experts_per_tok"].get<std::int64_t>()));
    EXPECT_LT(*p.active_params, *p.total_params);
  }
  if (t.contains("n_shared_experts")) {
    EXPECT_EQ(value(p, "shared experts"), std::to_string(t["n_shared_experts"].get<int>()));
  }
  if (t.contains("first_k_dense_replace")) {
    EXPECT_EQ(value(p, "first dense layers"), std::to_string(t["first_k_dense_replace"].get<int>()));
  }
  // Core keys read in the config's own spelling.
  if (t.contains("hidden_size")) {
    EXPECT_EQ(value(p, "hidden_size"), std::to_string(t["hidden_size"].get<std::int64_t>()));
  }
  if (t.contains("vocab_size")) {
    EXPECT_EQ(value(p, "vocab_size"), std::to_string(t["vocab_size"].get<std::int64_t>()));
  }
}

INSTANTIATE_TEST_SUITE_P(Real, RealConfig, ::testing::ValuesIn(real_configs()), [](const auto& param_info) {
  std::string n = param_info.param;
  for (auto& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
});

TEST(Architecture, KnownTotalsOfPublicModels) {
  // Published sizes: DeepSeek-V3 671B main model + 14B MTP module; Kimi-K2 1.04T total, 32B active
  // (the 1.0T/32B rounding leaves out embeddings); Mixtral 8x7B 46.7B total, 12.9B active.
  auto total = [](const char* dir) {
    const auto c = io::read_json_file(kReal / dir / "config.json");
    return stages::profile_architecture(c, registry(), dir);
  };
  const auto ds = total("deepseek-ai__DeepSeek-V3");
  EXPECT_NEAR(*ds.total_params / 1e9, 684.5, 5.0);
  const auto kimi = total("moonshotai__Kimi-K2-Instruct");
  EXPECT_NEAR(*kimi.total_params / 1e12, 1.04, 0.01);
  EXPECT_NEAR(*kimi.active_params / 1e9, 32.5, 1.5);
  const auto mixtral = total("mistralai__Mixtral-8x7B-v0.1");
  EXPECT_NEAR(*mixtral.total_params / 1e9, 46.7, 0.1);
  EXPECT_NEAR(*mixtral.active_params / 1e9, 12.9, 0.1);
}

TEST(Architecture, TowersFromAnotherFamilyAreFlagged) {
  const auto c = io::read_json_file(kReal / "google__medgemma-27b-it" / "config.json");
  const auto p = stages::profile_architecture(c, registry(), "medgemma");
  bool vision = false;
  for (const auto& t : p.towers) {
    if (t.config_key == "vision_config") {
      vision = true;
      EXPECT_TRUE(t.foreign) << t.model_type;
      EXPECT_EQ(t.family, "siglip_vision");
      EXPECT_GT(t.params, 100'000'000u);
    }
    if (t.config_key == "text_config") {
      EXPECT_FALSE(t.foreign);
    }
  }
  EXPECT_TRUE(vision);
  EXPECT_TRUE(std::any_of(p.breadcrumbs.begin(), p.breadcrumbs.end(), [](const std::string& b) {
    return b.find("probably a reused component") != std::string::npos;
  }));
  // A model whose towers are its own family's is not flagged.
  const auto q = stages::profile_architecture(io::read_json_file(kReal / "Qwen__Qwen3.5-35B-A3B" / "config.json"),
                                              registry(), "q");
  for (const auto& t : q.towers) EXPECT_FALSE(t.foreign) << t.config_key;
}

TEST(Architecture, BreadcrumbsNameBorrowedFieldsAndSavingPath) {
  const auto c = io::read_json_file(kReal / "mattshumer__Reflection-Llama-3.1-70B" / "config.json");
  const auto p = stages::profile_architecture(c, registry(), "reflection");
  EXPECT_TRUE(std::any_of(p.breadcrumbs.begin(), p.breadcrumbs.end(), [](const std::string& b) {
    return b.find("Meta-Llama-3-70B-Instruct") != std::string::npos;
  }));
  auto kimi = io::read_json_file(kReal / "moonshotai__Kimi-K2-Instruct" / "config.json");
  const auto k = stages::profile_architecture(kimi, registry(), "kimi");
  EXPECT_TRUE(std::any_of(k.breadcrumbs.begin(), k.breadcrumbs.end(),
                          [](const std::string& b) { return b.find("modeling_deepseek") != std::string::npos; }));
  stages::ArchitectureProfile withmtp;
  stages::add_tensor_breadcrumbs(withmtp, registry(),
                                 {"model.layers.61.eh_proj.weight", "model.layers.61.enorm.weight"});
  ASSERT_EQ(withmtp.breadcrumbs.size(), 1u);
  EXPECT_NE(withmtp.breadcrumbs[0].find("2 MTP tensors"), std::string::npos);
}

stages::ArchitectureProfile with_core(std::vector<std::string> values) {
  stages::ArchitectureProfile p;
  const char* keys[] = {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act"};
  for (int i = 0; i < 5; ++i) p.core.push_back({keys[i], values[static_cast<std::size_t>(i)], keys[i]});
  return p;
}

TEST(Architecture, CoreRubricFollowsTheAuditNotes) {
  const auto a = with_core({"4096", "48", "64", "10240", "silu"});
  EXPECT_EQ(stages::compare_core(a, a).matches, 5);
  EXPECT_NE(stages::compare_core(a, a).reading.find("same architecture"), std::string::npos);
  // Solar vs GLM-4.5-Air (METHODS §8): hidden and activation equal, the rest differ.
  const auto glm = with_core({"4096", "46", "96", "10944", "silu"});
  const auto m = stages::compare_core(a, glm);
  EXPECT_EQ(m.matches, 2);
  EXPECT_NE(m.reading.find("likely independent"), std::string::npos);
  EXPECT_NE(stages::compare_core(a, with_core({"4096", "48", "64", "1", "gelu"})).reading.find("3/5 similar"),
            std::string::npos);
  EXPECT_NE(stages::compare_core(a, with_core({"1", "2", "3", "4", "gelu"})).reading.find("0/5 different"),
            std::string::npos);
  // An unknown value is not a match, and a value in doubt is never compared.
  auto doubt = a;
  doubt.core[0].unconfirmed = true;
  EXPECT_EQ(stages::compare_core(a, doubt).matches, 4);
  EXPECT_EQ(stages::compare_core(a, doubt).comparable, 4);
  // ... and the reading says so, so 4/5 does not read as one differing key.
  EXPECT_NE(stages::compare_core(a, doubt).reading.find("4/5 similar architecture (1 not given by both; 4/4 of those "
                                                        "given equal)"),
            std::string::npos)
      << stages::compare_core(a, doubt).reading;
  EXPECT_EQ(stages::compare_core(a, a).reading.find("not given"), std::string::npos);
}

TEST(Architecture, ComputeEstimateIsSixNDTokens) {
  const auto c = stages::estimate_training_compute(37'000'000'000ull, 14.8e12, 4e14);
  EXPECT_DOUBLE_EQ(c.flops, 6.0 * 37e9 * 14.8e12);
  EXPECT_DOUBLE_EQ(c.gpu_hours, c.flops / 4e14 / 3600.0);
  EXPECT_THROW((void)stages::estimate_training_compute(1, 0, 1), UsageError);
  EXPECT_THROW((void)stages::estimate_training_compute(1, 1, -1), UsageError);
}

TEST(Catalog, EveryRealConfigHasAFaithfulEntry) {
  const auto catalog = io::load_catalog(kCatalog);
  for (const auto& name : real_configs()) {
    const auto config = io::read_json_file(kReal / name / "config.json");
    const auto real = stages::profile_architecture(config, registry(), name);
    const auto it = std::find_if(catalog.begin(), catalog.end(),
                                 [&](const io::CatalogEntry& e) { return fs::path(e.file).stem() == name; });
    ASSERT_NE(it, catalog.end()) << "no catalog entry for " << name;
    EXPECT_TRUE(it->confirmed) << name;
    const auto entry = stages::profile_architecture(it->config, registry(), it->model);
    const auto g = stages::compare_geometry(real, entry);
    EXPECT_EQ(g.matches, g.comparable) << name;
    EXPECT_GE(g.comparable, 5) << name;
  }
}

TEST(Catalog, RanksKimiK2FirstForTheAxK1Geometry) {
  // The audit notes compared A.X-K1 only with Solar, DeepSeek-V2 and Qwen2-57B; its values are Kimi-K2's.
  const auto suspect = io::read_json_file(std::string(LINEAGE_SOURCE_DIR) + "/tests/data/arch/ax_k1_like.config.json");
  const auto s = stages::profile_architecture(suspect, registry(), "ax-k1");
  EXPECT_TRUE(s.family.empty());
  EXPECT_EQ(s.attention_type, "MLA");
  const auto catalog = io::load_catalog(kCatalog);
  const io::CatalogEntry* best = nullptr;
  stages::GeometryMatch best_match;
  for (const auto& e : catalog) {
    auto p = stages::profile_architecture(e.config, registry(), e.model);
    stages::mark_unconfirmed(p, e.unconfirmed);
    const auto g = stages::compare_geometry(s, p);
    if (!best || g.matches > best_match.matches) {
      best = &e;
      best_match = g;
    }
  }
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(best->model, "moonshotai/Kimi-K2-Instruct");
  EXPECT_EQ(best_match.matches, best_match.comparable);
}

// Issue #11: `lineage arch` on a composite model whose model_type no family knows read nothing
// (every key "-", 0 keys compared against every catalogue entry). The text decoder under
// text_config uses the common spellings; the vision tower names a known family.
TEST(Architecture, UnknownCompositeIsReadTowerByTower) {
  const auto config = io::read_json_file(std::string(LINEAGE_SOURCE_DIR) + "/tests/data/arch/hcx_vlm_like.config.json");
  const auto p = stages::profile_architecture(config, registry(), "hcx");
  EXPECT_TRUE(p.family.empty());
  EXPECT_EQ(p.model_type, "vlm");
  EXPECT_EQ(value(p, "hidden_size"), "5120");
  EXPECT_EQ(value(p, "num_hidden_layers"), "72");
  EXPECT_EQ(value(p, "num_attention_heads"), "40");
  EXPECT_EQ(value(p, "intermediate_size"), "24192");
  EXPECT_EQ(value(p, "hidden_act"), "silu");
  EXPECT_EQ(value(p, "num_key_value_heads"), "8");
  EXPECT_EQ(value(p, "vocab_size"), "128256");
  EXPECT_EQ(value(p, "rope_theta"), "50000000");
  EXPECT_EQ(p.attention_type, "GQA");
  EXPECT_EQ(p.fact("num_hidden_layers")->spelled, "num_hidden_layers");
  ASSERT_FALSE(p.notes.empty());
  EXPECT_NE(p.notes.front().find("text decoder is read from text_config (model_type hyperclovax)"), std::string::npos)
      << p.notes.front();
  // Each tower with its own model_type; the vision tower's family named and flagged as reused.
  bool vision = false, text = false;
  for (const auto& t : p.towers) {
    if (t.config_key == "vision_config") {
      vision = true;
      EXPECT_EQ(t.model_type, "qwen2_5_vl");
      EXPECT_EQ(t.family, "qwen2_5_vl_vision");
      EXPECT_TRUE(t.foreign);
    }
    if (t.config_key == "text_config") {
      text = true;
      EXPECT_EQ(t.model_type, "hyperclovax");
      // families/hyperclovax.yaml names this tower's model_type (before it existed: no family, common spellings).
      EXPECT_EQ(t.family, "hyperclovax");
      EXPECT_FALSE(t.foreign);
    }
  }
  EXPECT_TRUE(vision && text);

  // Compared with the catalogue, keys are now compared (the old reading compared 0).
  const auto catalog = io::load_catalog(kCatalog);
  const auto ranked = stages::rank_catalog(p, catalog, registry());
  ASSERT_FALSE(ranked.empty());
  EXPECT_GE(ranked.front().geometry.comparable, 10);

  // Each tower on its own: the vision tower by its family, closest to Qwen2.5-VL's vision tower.
  const auto towers = stages::profile_towers(config, registry(), "hcx");
  ASSERT_EQ(towers.size(), 2u);
  for (const auto& t : towers) {
    if (t.config_key == "vision_config") {
      EXPECT_EQ(t.family, "qwen2_5_vl_vision");
      EXPECT_EQ(t.model_type, "qwen2_5_vl");
      EXPECT_EQ(t.component, Component::vision);
      EXPECT_EQ(value(t, "hidden_size"), "1280");
      EXPECT_EQ(value(t, "num_hidden_layers"), "32");
      EXPECT_EQ(value(t, "num_attention_heads"), "16");
      EXPECT_EQ(t.fact("num_hidden_layers")->spelled, "depth");
      ASSERT_TRUE(t.total_params.has_value());
      // Qwen2.5-VL's vision encoder with its merger: about 0.67 B parameters.
      EXPECT_NEAR(static_cast<double>(*t.total_params) / 1e9, 0.67, 0.02);
      const auto tr = stages::rank_catalog_towers(t, catalog, registry());
      ASSERT_FALSE(tr.empty());
      EXPECT_EQ(tr.front().entry->model, "Qwen/Qwen2.5-VL-7B-Instruct");
      EXPECT_EQ(tr.front().tower, "vision_config");
      EXPECT_EQ(tr.front().profile.family, "qwen2_5_vl_vision");
      EXPECT_EQ(tr.front().geometry.matches, tr.front().geometry.comparable);
      EXPECT_GE(tr.front().geometry.comparable, 5);
    } else {
      EXPECT_EQ(t.config_key, "text_config");
      // families/hyperclovax.yaml now reads this tower (before it existed: "no family knows model_type
      // hyperclovax: common key spellings"); it also gives the decoder's parameter count.
      EXPECT_EQ(t.family, "hyperclovax");
      EXPECT_EQ(t.model_type, "hyperclovax");
      EXPECT_NE(t.reading.find("family hyperclovax"), std::string::npos) << t.reading;
      ASSERT_TRUE(t.total_params.has_value());
      EXPECT_NEAR(static_cast<double>(*t.total_params) / 1e9, 32.6, 0.05);
      EXPECT_EQ(value(t, "hidden_size"), "5120");
      const auto tr = stages::rank_catalog_towers(t, catalog, registry());
      ASSERT_FALSE(tr.empty());
      EXPECT_GE(tr.front().geometry.comparable, 10);
    }
  }
}

TEST(Catalog, SpellingsOfOtherFamiliesMapToOneVocabulary) {
  const auto dbrx = io::read_catalog_entry(kCatalog / "databricks__dbrx-base.yaml");
  const auto p = stages::profile_architecture(dbrx.config, registry(), dbrx.model);
  EXPECT_EQ(p.family, "dbrx");
  EXPECT_EQ(value(p, "hidden_size"), "6144");
  EXPECT_EQ(p.fact("hidden_size")->spelled, "d_model");
  EXPECT_EQ(value(p, "routed experts"), "16");
  EXPECT_EQ(value(p, "num_key_value_heads"), "8");
  EXPECT_EQ(p.attention_type, "GQA");
}

TEST(Catalog, BadEntriesAreRejectedWithTheirFile) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return dir.path() / name;
  };
  const auto unknown = write("a.yaml", "model: x\nsource: y\nconfirmed: true\nconfig: {hidden_size: 1}\nfoo: 1\n");
  EXPECT_THROW((void)io::read_catalog_entry(unknown), ConfigError);
  const auto silent = write("b.yaml", "model: x\nsource: y\nconfirmed: false\nconfig: {hidden_size: 1}\n");
  EXPECT_THROW((void)io::read_catalog_entry(silent), ConfigError);
  const auto stray =
      write("c.yaml", "model: x\nsource: y\nconfirmed: false\nunconfirmed: [vocab_size]\nconfig: {hidden_size: 1}\n");
  EXPECT_THROW((void)io::read_catalog_entry(stray), ConfigError);
  const auto typed =
      write("d.yaml", "model: x\nsource: y\nconfirmed: true\nconfig: {a: 1, b: 1e-06, c: \"7\", d: true, e: null}\n");
  const auto e = io::read_catalog_entry(typed);
  EXPECT_TRUE(e.config["a"].is_number_integer());
  EXPECT_TRUE(e.config["b"].is_number_float());
  EXPECT_TRUE(e.config["c"].is_string());
  EXPECT_TRUE(e.config["d"].is_boolean());
  EXPECT_TRUE(e.config["e"].is_null());
  try {
    (void)io::read_catalog_entry(unknown);
  } catch (const ConfigError& x) {
    EXPECT_NE(std::string(x.what()).find("a.yaml"), std::string::npos);
  }
}

// `sources:` gives a key its own source (a seed document and its section) where it is not the
// entry's `source`; it must name a key of config (dotted for a nested one) and say something.
TEST(Catalog, PerKeySourcesAreReadAndMustNameAConfigKey) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return dir.path() / name;
  };
  const std::string head = "model: x\nsource: y\nconfirmed: false\nnotes: from notes\n";
  const auto good = io::read_catalog_entry(
      write("a.yaml", head + "sources: {vocab_size: \"seed 003 s3\", text_config.rope_theta: \"seed 000 s2\"}\n" +
                          "config: {vocab_size: 7, text_config: {rope_theta: 5}}\n"));
  ASSERT_EQ(good.sources.size(), 2u);
  EXPECT_EQ(good.sources.at("vocab_size"), "seed 003 s3");
  EXPECT_EQ(good.sources.at("text_config.rope_theta"), "seed 000 s2");
  EXPECT_TRUE(io::read_catalog_entry(write("b.yaml", head + "config: {vocab_size: 7}\n")).sources.empty());

  auto rejected = [&](const std::string& name, const std::string& sources, const std::string& where) {
    try {
      (void)io::read_catalog_entry(
          write(name, head + sources + "config: {vocab_size: 7, text_config: {rope_theta: 5}}\n"));
      ADD_FAILURE() << "accepted: " << sources;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  };
  rejected("c.yaml", "sources: {vocab_szie: \"seed 003\"}\n", "vocab_szie");                // a typo
  rejected("d.yaml", "sources: {text_config.hidden_size: \"seed 000\"}\n", "hidden_size");  // not nested there
  rejected("e.yaml", "sources: {vocab_size: \"\"}\n", "sources.vocab_size");                // says nothing
  rejected("f.yaml", "sources: [vocab_size]\n", "f.yaml");                                  // not a map

  // The A.X-K1 entry cites the seed table of each value it takes from there.
  const auto axk1 = io::read_catalog_entry(kCatalog / "skt__A.X-K1.yaml");
  EXPECT_FALSE(axk1.confirmed);
  ASSERT_TRUE(axk1.sources.count("q_lora_rank"));
  EXPECT_NE(axk1.sources.at("q_lora_rank").find("seed 003"), std::string::npos);
}

// arch --exclude: a disputed model's own entry (built from the same seed values) ranks first
// against its case config; left out, the nearest other architecture is Kimi-K2. A name no entry
// has is a usage error, not a silent no-op.
TEST(Catalog, ExcludeLeavesTheSuspectsOwnEntryOut) {
  const auto suspect = io::read_json_file(std::string(LINEAGE_SOURCE_DIR) + "/cases/ax-k1/suspect/config.json");
  const auto s = stages::profile_architecture(suspect, registry(), "ax-k1");
  auto catalog = io::load_catalog(kCatalog);
  const auto size = catalog.size();
  const auto with_own = stages::rank_catalog(s, catalog, registry());
  ASSERT_FALSE(with_own.empty());
  EXPECT_EQ(with_own.front().entry->model, "skt/A.X-K1");

  EXPECT_THROW(io::exclude_models(catalog, {"no/such-model"}), UsageError);
  EXPECT_EQ(catalog.size(), size);
  io::exclude_models(catalog, {"skt/A.X-K1"});
  EXPECT_EQ(catalog.size(), size - 1);
  const auto without = stages::rank_catalog(s, catalog, registry());
  ASSERT_FALSE(without.empty());
  EXPECT_EQ(without.front().entry->model, "moonshotai/Kimi-K2-Instruct");
  // Every tower entry of a model goes with it; excluding everything leaves nothing to rank.
  std::vector<std::string> all;
  for (const auto& e : catalog) all.push_back(e.model);
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_THROW(io::exclude_models(catalog, all), UsageError);
}

}  // namespace
}  // namespace lineage

namespace lineage {
namespace {

// Quantised releases: families/_quantization.yaml `methods` say which companions a
// quantization_config implies, and arch counts the converted weights and their companions;
// without a matching method, the config's dtype throughout.
TEST(ArchitectureQuantisation, CompanionsFollowTheQuantisationFile) {
  for (const char* model : {"deepseek-ai__DeepSeek-V3", "jeevanchaps__Meta-Llama3.1-8B-Instruct-assessment"}) {
    auto config = io::read_json_file(kReal / model / "config.json");
    const auto quantised = stages::profile_architecture(config, registry(), model);
    config.erase("quantization_config");
    const auto plain = stages::profile_architecture(config, registry(), model);
    ASSERT_TRUE(quantised.total_bytes && plain.total_bytes) << model;
    // Converted weights take one byte (FP8, int8) instead of two; their scales add a little.
    EXPECT_LT(*quantised.total_bytes, *plain.total_bytes) << model;
    EXPECT_GT(*quantised.total_bytes, *plain.total_bytes / 2) << model << ": the companions' bytes";
    EXPECT_TRUE(std::any_of(quantised.notes.begin(), quantised.notes.end(), [](const std::string& n) {
      return n.find("quantization_config converts") != std::string::npos;
    })) << model;
  }
  // A registry whose quantisation file names no method counts no companion.
  FamilyRegistry bare = registry();
  bare.set_quantisation({});
  const auto config = io::read_json_file(kReal / "deepseek-ai__DeepSeek-V3" / "config.json");
  auto without_methods = stages::profile_architecture(config, bare, "v3");
  auto no_config = config;
  no_config.erase("quantization_config");
  EXPECT_EQ(without_methods.total_bytes, stages::profile_architecture(no_config, registry(), "v3").total_bytes);
}

}  // namespace
}  // namespace lineage

namespace lineage {
namespace {

// The table's spellings are data (families/_generic_decoder.yaml, config.facts): every row read
// from the config has its names there, and editing them changes what lineage arch reads.
TEST(Architecture, TableRowsAreReadFromTheNamesOfTheGenericReading) {
  const auto* g = registry().generic_reading();
  ASSERT_NE(g, nullptr);
  const auto listed = [&](const std::string& key) {
    return std::any_of(g->fact_names.begin(), g->fact_names.end(), [&](const auto& f) { return f.first == key; });
  };
  const auto p = stages::profile_architecture(nlohmann::json{{"model_type", "x"}}, registry(), "x");
  for (const auto* rows : {&p.core, &p.extended}) {
    for (const auto& f : *rows) {
      if (f.key == "attention" || f.key == "layer pattern") continue;  // derived rows
      EXPECT_TRUE(listed(f.key)) << f.key;
    }
  }
  EXPECT_TRUE(listed("attention kv heads"));

  testing::TempDir dir;
  fs::copy(std::string(LINEAGE_SOURCE_DIR) + "/families", dir.path(), fs::copy_options::recursive);
  const auto generic = dir.path() / "_generic_decoder.yaml";
  std::ifstream in(generic);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string row = "    hidden_size: [hidden, hidden_size, d_model, n_embd]";
  const auto at = text.find(row);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, row.size(), "    hidden_size: [d_model]");
  std::ofstream(generic) << text;
  const auto edited = io::load_family_registry(dir.path());
  const nlohmann::json config{{"model_type", "unknown_x"}, {"hidden_size", 4096}, {"d_model", 7}};
  EXPECT_EQ(stages::profile_architecture(config, registry(), "x").core[0].value, "4096");
  EXPECT_EQ(stages::profile_architecture(config, edited, "x").core[0].value, "7");
}

}  // namespace
}  // namespace lineage
