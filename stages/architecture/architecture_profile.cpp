#include "stages/architecture/architecture_profile.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "core/errors.hpp"
#include "core/json_path.hpp"
#include "stages/inventory/bound_family.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/expected_listing.hpp"
#include "stages/inventory/inventory.hpp"

namespace lineage::stages {
namespace {

/// The text decoder's scope: the scope of the first text-component entry (composites mount the
/// text decoder under text_config / language_config).
const Scope* text_scope(const BoundFamily& b) {
  for (const auto& e : b.entries) {
    if (e.component == Component::text && e.scope) return e.scope;
  }
  return b.scopes.empty() ? nullptr : &b.scopes.front();
}

const std::vector<std::pair<std::string, expr::Expression>>* vars_of(const Scope* s) { return s ? s->vars : nullptr; }

/// A family var or config key as seen from the scope; nullopt when unknown or null. A var that
/// needs a key this config lacks is simply unknown here (the inventory reports such gaps).
std::optional<expr::Value> lookup(const Scope* s, const std::string& name) {
  if (!s) return std::nullopt;
  try {
    const ScopeEnvironment env(*s);
    auto v = env.lookup(name);
    if (v && v->is_null()) return std::nullopt;
    return v;
  } catch (const Error&) {
    return std::nullopt;
  } catch (const expr::MissingName&) {
    return std::nullopt;
  }
}

bool config_has(const Scope* s, const std::string& dotted) {
  for (; s; s = s->parent) {
    if (s->config && find_dotted(*s->config, dotted)) return true;
  }
  return false;
}

/// The config key a family var reads first (its own spelling), e.g. "n_routed_experts".
std::string spelling_of(const Scope* s, const std::string& name) {
  if (config_has(s, name)) return name;
  const auto* vars = vars_of(s);
  if (!vars) return "";
  for (const auto& [k, e] : *vars) {
    if (k != name) continue;
    static const std::regex ident(R"([A-Za-z_][A-Za-z0-9_.]*)");
    const auto& src = e.source();
    for (auto it = std::sregex_iterator(src.begin(), src.end(), ident); it != std::sregex_iterator(); ++it) {
      auto id = it->str();
      if (config_has(s, id)) return id;
    }
  }
  return "";
}

std::string text(const expr::Value& v) {
  if (const auto* str = std::get_if<std::string>(&v.v)) return *str;
  if (const auto* d = std::get_if<double>(&v.v)) {
    // Whole numbers as integers (rope_theta 50000.0 reads 50000 in every family); other floats
    // in their shortest round-trip text (1e-06).
    if (std::isfinite(*d) && std::abs(*d) < 1e15 && *d == std::floor(*d)) {
      return std::to_string(static_cast<std::int64_t>(*d));
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    for (int prec = 1; prec <= 17; ++prec) {
      std::snprintf(buf, sizeof buf, "%.*g", prec, *d);
      if (std::strtod(buf, nullptr) == *d) break;
    }
    return buf;
  }
  return v.to_string();
}

/// The names a table key is read from, first known wins: the generic reading's `config.facts`
/// (families/_generic_decoder.yaml), else the key itself.
std::vector<std::string> fact_names(const FamilyRegistry& registry, const std::string& key) {
  if (const auto* g = registry.generic_reading()) {
    for (const auto& [k, names] : g->fact_names) {
      if (k == key) return names;
    }
  }
  return {key};
}

/// A table row: the first of the key's names that the scope knows.
ArchitectureFact fact(const Scope* s, const FamilyRegistry& registry, const std::string& key) {
  for (const auto& n : fact_names(registry, key)) {
    if (auto v = lookup(s, n)) return {key, text(*v), spelling_of(s, n)};
  }
  return {key, "-", ""};
}

const char* const kGeometryKeys[] = {"hidden_size",
                                     "num_hidden_layers",
                                     "num_attention_heads",
                                     "intermediate_size",
                                     "hidden_act",
                                     "num_key_value_heads",
                                     "head_dim",
                                     "attention",
                                     "routed experts",
                                     "experts per token",
                                     "shared experts",
                                     "moe_intermediate_size",
                                     "first dense layers",
                                     "vocab_size",
                                     "MLA q_lora_rank",
                                     "MLA kv_lora_rank",
                                     "max_position_embeddings",
                                     "rope_theta",
                                     "tie_word_embeddings",
                                     "layer pattern",
                                     "MTP layers"};

/// A tower's component from its config key, by the words the generic reading lists.
Component tower_component(const FamilyRegistry& registry, const std::string& config_key) {
  if (const auto* g = registry.generic_reading()) {
    for (const auto& [component, words] : g->tower_components) {
      for (const auto& w : words) {
        if (config_key.find(w) != std::string::npos) return component;
      }
    }
  }
  return Component::other;
}

}  // namespace

const ArchitectureFact* ArchitectureProfile::fact(const std::string& key) const {
  for (const auto* rows : {&core, &extended}) {
    for (const auto& f : *rows) {
      if (f.key == key) return &f;
    }
  }
  return nullptr;
}

namespace {

/// The family a tower's model_type names: a tower-only family (no architectures of its own) first,
/// since a whole-model family may share the model_type (qwen3_vl and qwen3_vl_vision).
const FamilySpec* tower_family(const FamilyRegistry& registry, const std::string& model_type) {
  if (model_type.empty()) return nullptr;
  const FamilySpec* any = nullptr;
  for (const auto& [id, f] : registry.all()) {
    if (std::find(f.model_types.begin(), f.model_types.end(), model_type) == f.model_types.end()) continue;
    if (f.architectures.empty()) return &f;
    if (!any) any = &f;
  }
  return any;
}

const std::vector<std::string>& text_config_keys(const FamilyRegistry& registry) {
  static const std::vector<std::string> none;
  const auto* g = registry.generic_reading();
  return g ? g->text_configs : none;
}

bool is_text_config(const FamilyRegistry& registry, const std::string& key) {
  const auto& keys = text_config_keys(registry);
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

/// The sub-configs that are towers: every `*_config` object with a model_type, and those the
/// generic reading lists (vision_config, audio_config) or whose key names a vision/audio tower.
std::vector<std::string> tower_keys(const nlohmann::json& config, const FamilyRegistry& registry) {
  std::vector<std::string> out;
  const auto* g = registry.generic_reading();
  for (auto it = config.begin(); it != config.end(); ++it) {
    const auto& k = it.key();
    if (!it.value().is_object() || k.size() < 7 || k.compare(k.size() - 7, 7, "_config") != 0) continue;
    const bool listed = g && std::find(g->tower_configs.begin(), g->tower_configs.end(), k) != g->tower_configs.end();
    if (it.value().value("model_type", std::string()).empty() && !listed &&
        tower_component(registry, k) == Component::other)
      continue;
    out.push_back(k);
  }
  return out;
}

std::size_t known_facts(const ArchitectureProfile& p) {
  std::size_t n = 0;
  for (const auto* rows : {&p.core, &p.extended}) {
    for (const auto& f : *rows) n += f.value != "-" && !f.spelled.empty();
  }
  return n;
}

std::string identity(const ArchitectureProfile& p) {
  std::string archs;
  for (const auto& a : p.architectures) archs += (archs.empty() ? "" : ", ") + a;
  return "architectures " + (archs.empty() ? std::string("-") : archs) + ", model_type " +
         (p.model_type.empty() ? std::string("-") : p.model_type);
}

/// `spec` null: no family; the config is read with the generic reading's common spellings, from
/// its text sub-config when `whole_model` and it has one.
ArchitectureProfile profile_impl(const nlohmann::json& config, const FamilyRegistry& registry,
                                 const std::string& source, const FamilySpec* spec, bool whole_model) {
  ArchitectureProfile p;
  p.source = source;
  p.model_type = config.value("model_type", std::string());
  if (config.contains("architectures") && config["architectures"].is_array()) {
    for (const auto& a : config["architectures"]) {
      if (a.is_string()) p.architectures.push_back(a.get<std::string>());
    }
  }
  if (spec) p.family = spec->id;
  // Without a family the config itself is the scope, its keys read through the generic
  // reading's common spellings (families/_generic_decoder.yaml, config.vars).
  const auto* generic = registry.generic_reading();
  const auto* spellings = generic && !generic->config_vars.empty() ? &generic->config_vars : nullptr;
  BoundFamily bound;
  Scope bare{&config, spellings, nullptr, nullptr};
  Scope text_sub;
  const Scope* s = &bare;
  std::string read_from;
  if (spec) {
    bound = bind_family(registry, *spec, config, nullptr);
    s = text_scope(bound);
  } else if (whole_model) {
    for (const auto& k : text_config_keys(registry)) {
      if (!config.contains(k) || !config[k].is_object()) continue;
      text_sub = Scope{&config[k], spellings, nullptr, nullptr};
      s = &text_sub;
      read_from = k;
      break;
    }
  }

  // Rows read as the table's names say (families/_generic_decoder.yaml, config.facts).
  const auto read_rows = [&](std::initializer_list<const char*> keys, std::vector<ArchitectureFact>& rows) {
    for (const char* key : keys) rows.push_back(fact(s, registry, key));
  };
  // Core keys through the family's own vars, i.e. its own spelling.
  read_rows({"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act"}, p.core);

  // Heads through the core row (any family's spelling); missing num_key_value_heads means MHA.
  std::optional<std::int64_t> heads, kv;
  if (p.core[2].value != "-") {
    if (auto v = lookup(s, p.core[2].spelled.empty() ? "heads" : p.core[2].spelled)) heads = v->as_int();
  }
  for (const auto& name : fact_names(registry, "attention kv heads")) {
    if (auto v = lookup(s, name); v && !kv) kv = v->as_int();
  }
  if (!kv && config_has(s, "multi_query") && lookup(s, "multi_query")->truthy()) kv = 1;  // old Falcon
  const auto kv_lora = lookup(s, "kv_lora_rank");
  if (kv_lora) {
    p.attention_type = "MLA";
  } else if (heads) {
    const auto k = kv.value_or(*heads);
    p.attention_type = k == *heads ? "MHA" : k == 1 ? "MQA" : "GQA";
  }
  std::string attention = p.attention_type;
  if (p.attention_type == "GQA") {
    attention += " (" + std::to_string(*heads / std::max<std::int64_t>(*kv, 1)) + " q heads per kv head)";
  }

  const bool window_off = lookup(s, "use_sliding_window") && !lookup(s, "use_sliding_window")->truthy();
  // Layer pattern: explicit layer_types, a full-attention period, or sliding windows on all layers.
  std::string pattern = "-";
  if (auto layer_types = lookup(s, "layer_types")) {
    if (const auto* l = std::get_if<expr::List>(&layer_types->v)) {
      std::map<std::string, int> counts;
      for (const auto& t : *l) ++counts[text(t)];
      pattern.clear();
      for (const auto& [t, n] : counts) pattern += (pattern.empty() ? "" : " + ") + std::to_string(n) + " " + t;
    }
  } else if (auto every = lookup(s, "full_attention_interval")) {
    pattern = "full attention every " + text(*every) + " layers";
    // A hybrid whose other layers use a sliding window (VAETKI in the seed notes) rather than linear attention.
    if (auto window = lookup(s, "sliding_window"); window && !window_off && window->v.index() != 0) {
      pattern = "sliding window " + text(*window) + ", " + pattern;
    }
  } else if (auto letters = lookup(s, "sliding_window_pattern")) {
    // EXAONE 4 / K-EXAONE: a string of L (local, sliding) and G (global) repeated from layer 0, or the period
    // of the global layers as an integer (ExaoneMoeConfig); the last layer is always global.
    const auto window = lookup(s, "sliding_window");
    const std::string sliding = window ? "sliding window " + text(*window) + ", " : "";
    if (std::holds_alternative<std::string>(letters->v)) {
      pattern = sliding + "layer pattern " + std::get<std::string>(letters->v) + " (L sliding, G full attention)";
    } else {
      pattern = sliding + "full attention every " + text(*letters) + " layers";
    }
  } else if (auto step = lookup(s, "interleave_moe_layer_step")) {
    pattern = "MoE every " + text(*step) + " layer(s)";
  } else if (auto window = lookup(s, "sliding_window"); window && !window_off) {
    pattern = "sliding window " + text(*window) + " on every layer";
  }

  const auto experts = fact(s, registry, "routed experts");
  p.moe = experts.value != "-" && experts.value != "0";
  // MLA heads have a query/key width (no-position + rotary part) and a value width of their own.
  auto head_dim = fact(s, registry, "head_dim");
  if (kv_lora) {
    const auto nope = lookup(s, "qk_nope_head_dim"), rope = lookup(s, "qk_rope_head_dim"), v = lookup(s, "v_head_dim");
    if (nope && rope) {
      head_dim = {"head_dim", std::to_string(nope->as_int() + rope->as_int()) + (v ? " (v " + text(*v) + ")" : ""),
                  "qk_nope_head_dim + qk_rope_head_dim"};
    }
  }
  auto sliding = fact(s, registry, "sliding_window");
  if (sliding.value != "-" && window_off) sliding.value += " (use_sliding_window false)";
  p.extended = {fact(s, registry, "num_key_value_heads"),
                head_dim,
                {"attention", attention, kv_lora ? "kv_lora_rank" : "num_key_value_heads"},
                experts};
  read_rows({"experts per token", "shared experts", "shared expert intermediate", "moe_intermediate_size",
             "first dense layers", "vocab_size", "max_position_embeddings", "rope_theta", "rope_scaling",
             "partial_rotary_factor", "norm eps", "tie_word_embeddings"},
            p.extended);
  p.extended.push_back(sliding);
  p.extended.push_back({"layer pattern", pattern, ""});
  read_rows({"MLA q_lora_rank", "MLA kv_lora_rank", "router scoring", "MTP layers", "torch_dtype"}, p.extended);

  if (!spec && whole_model) {
    const auto n = known_facts(p);
    std::string how = "no family file matches (" + identity(p) + "): ";
    if (!read_from.empty()) {
      const auto mt = config[read_from].value("model_type", std::string());
      how += "the text decoder is read from " + read_from + " (model_type " + (mt.empty() ? "-" : mt) + ")";
    } else {
      how += "the top-level config is read as the text decoder";
    }
    how += spellings ? " through the common key spellings of " + generic->file + " (config.vars)"
                     : " as spelled (the family folder has no generic reading)";
    p.notes.push_back(how + ": " + std::to_string(n) + " keys found; each tower is compared on its own");
  }

  // Parameters: the family's expected tensors for this config, counted like an index-only inventory.
  if (spec) {
    try {
      const auto listing = expected_listing(expand_bound_family(bound).tensors, registry.quantisation(), config);
      if (has_quantisation_companions(registry.quantisation(), config)) {
        p.notes.push_back(
            "bytes assume quantization_config converts every linear projection except its listed modules");
      }
      const auto inv = build_inventory(listing, &config, registry, spec->id);
      p.total_params = inv.total_params;
      p.active_params = inv.active_params;
      p.total_bytes = inv.total_bytes;
      for (const auto& r : inv.roles) p.params_by_component[r.component] += r.params;
    } catch (const Error& e) {
      p.notes.push_back(std::string("parameter count unavailable: ") + e.what());
    }
  }

  if (whole_model) {
    for (const auto& k : tower_keys(config, registry)) {
      const auto mt = config[k].value("model_type", std::string());
      TowerProfile t{k, mt, "", false, 0};
      if (const auto* f = tower_family(registry, mt)) t.family = f->id;
      const auto c = is_text_config(registry, k) ? Component::text : tower_component(registry, k);
      if (c != Component::other && c != Component::text && p.params_by_component.count(c))
        t.params = p.params_by_component.at(c);
      p.towers.push_back(t);
    }
  }
  // Towers whose model_type another family claims: probably reused components.
  for (auto& t : p.towers) {
    const bool text_decoder = is_text_config(registry, t.config_key);
    t.foreign = !text_decoder && !t.model_type.empty() && !t.family.empty() && t.family != p.family &&
                t.model_type != p.model_type;
    if (t.foreign) {
      p.breadcrumbs.push_back(t.config_key + " has model_type '" + t.model_type + "' (family " + t.family +
                              "): probably a reused component — compare it with that family's public towers");
    } else if (!text_decoder && !t.model_type.empty() && t.family.empty()) {
      p.breadcrumbs.push_back(t.config_key + " has model_type '" + t.model_type +
                              "', which no family file knows: identify where this tower comes from");
    }
  }
  // Config fields of features the model does not use, and of other families.
  if (config_has(s, "num_nextn_predict_layers") && spec && spelling_of(s, "mtp_layers").empty()) {
    p.breadcrumbs.push_back("num_nextn_predict_layers is a DeepSeek/GLM key, unused by family " + p.family);
  }
  if (sliding.value != "-" && window_off) {
    p.breadcrumbs.push_back(
        "sliding_window is set but use_sliding_window is false (a key inherited from a template config)");
  }
  if (config.contains("_name_or_path") && config["_name_or_path"].is_string() &&
      !config["_name_or_path"].get<std::string>().empty()) {
    p.breadcrumbs.push_back("_name_or_path = " + config["_name_or_path"].get<std::string>() +
                            " (the checkpoint this config was saved from)");
  }
  if (config.contains("auto_map"))
    p.breadcrumbs.push_back("remote modeling code: auto_map " + config["auto_map"].dump());
  if (spec && !p.model_type.empty() &&
      std::find(spec->model_types.begin(), spec->model_types.end(), p.model_type) == spec->model_types.end()) {
    p.breadcrumbs.push_back("model_type '" + p.model_type + "' is not one of family " + p.family +
                            "'s own names: the architecture class was borrowed");
  }
  for (const auto& a : p.architectures) {
    if (spec && std::find(spec->architectures.begin(), spec->architectures.end(), a) == spec->architectures.end()) {
      p.breadcrumbs.push_back("architectures names " + a + ", which family " + p.family + " does not list");
    }
  }
  return p;
}

}  // namespace

ArchitectureProfile profile_architecture(const nlohmann::json& config, const FamilyRegistry& registry,
                                         const std::string& source) {
  return profile_impl(config, registry, source, select_family_by_config(registry, config), true);
}

std::vector<ArchitectureProfile> profile_towers(const nlohmann::json& config, const FamilyRegistry& registry,
                                                const std::string& source) {
  std::vector<ArchitectureProfile> out;
  for (const auto& k : tower_keys(config, registry)) {
    const auto& sub = config[k];
    const auto mt = sub.value("model_type", std::string());
    const auto* spec = tower_family(registry, mt);
    ArchitectureProfile t;
    try {
      t = profile_impl(sub, registry, source + " " + k, spec, false);
    } catch (const Error& e) {  // a family that does not apply to this sub-config: read it generically
      t = profile_impl(sub, registry, source + " " + k, nullptr, false);
      t.notes.push_back("family " + spec->id + " does not apply: " + e.what());
      spec = nullptr;
    }
    t.config_key = k;
    t.component = is_text_config(registry, k) ? Component::text : tower_component(registry, k);
    const auto n = std::to_string(known_facts(t));
    t.reading = spec ? "family " + spec->id + " (its model_types name " + mt + "), " + n + " keys"
                     : (mt.empty() ? std::string("no model_type") : "no family knows model_type " + mt) +
                           ": common key spellings, " + n + " keys";
    out.push_back(std::move(t));
  }
  return out;
}

void mark_unconfirmed(ArchitectureProfile& profile, const std::vector<std::string>& config_keys) {
  for (auto* rows : {&profile.core, &profile.extended}) {
    for (auto& f : *rows) {
      const bool doubt = std::find(config_keys.begin(), config_keys.end(), f.spelled) != config_keys.end() ||
                         std::find(config_keys.begin(), config_keys.end(), f.key) != config_keys.end();
      f.unconfirmed = f.unconfirmed || (doubt && f.value != "-");
    }
  }
}

void add_tensor_breadcrumbs(ArchitectureProfile& profile, const FamilyRegistry& registry,
                            const std::vector<std::string>& names) {
  std::map<std::string, int> kinds;
  const auto* g = registry.generic_reading();
  for (const auto& n : names) {
    std::string kind = "tensors no family entry names";
    if (g) {
      const auto it = std::find_if(g->breadcrumbs.begin(), g->breadcrumbs.end(), [&](const auto& b) {
        return std::any_of(b.second.begin(), b.second.end(),
                           [&](const std::string& w) { return n.find(w) != std::string::npos; });
      });
      if (it != g->breadcrumbs.end()) kind = it->first;
    }
    ++kinds[kind];
  }
  for (const auto& [k, n] : kinds) {
    profile.breadcrumbs.push_back(
        std::to_string(n) + " " + k +
        " the config does not account for (e.g. the weight map keeps a feature the config does not use)");
  }
}

CoreMatch compare_core(const ArchitectureProfile& a, const ArchitectureProfile& b) {
  CoreMatch m;
  for (std::size_t i = 0; i < a.core.size() && i < b.core.size(); ++i) {
    if (a.core[i].value == "-" || b.core[i].value == "-" || a.core[i].unconfirmed || b.core[i].unconfirmed) continue;
    ++m.comparable;
    if (a.core[i].value == b.core[i].value) ++m.matches;
  }
  // The rubric of METHODS §8 [KVER docs/03]; a use for choosing strategies, never evidence.
  const auto n = std::to_string(m.matches) + "/5";
  m.reading = m.matches == 5   ? n + " same architecture (suspect fine-tuning: compare the weights)"
              : m.matches >= 3 ? n + " similar architecture"
              : m.matches >= 1 ? n + " likely independent architecture"
                               : n + " different architectures";
  // A key one config does not give is neither equal nor different: say so, or 4/5 reads as one mismatch
  // (A.X-K1's seed values give no hidden_act, and its four others equal Kimi-K2's).
  if (m.comparable < 5) {
    m.reading += " (" + std::to_string(5 - m.comparable) + " not given by both; " + std::to_string(m.matches) + "/" +
                 std::to_string(m.comparable) + " of those given equal)";
  }
  return m;
}

GeometryMatch compare_geometry(const ArchitectureProfile& a, const ArchitectureProfile& b) {
  GeometryMatch g;
  for (const char* key : kGeometryKeys) {
    const auto* fa = a.fact(key);
    const auto* fb = b.fact(key);
    if (!fa || !fb || fa->value == "-" || fb->value == "-" || fa->unconfirmed || fb->unconfirmed) continue;
    ++g.comparable;
    if (fa->value == fb->value) {
      ++g.matches;
      g.matched_keys.push_back(key);
    } else {
      g.differing_keys.push_back(key);
    }
  }
  return g;
}

ComputeEstimate estimate_training_compute(std::uint64_t active_params, double tokens, double flops_per_gpu_second) {
  if (!(tokens > 0) || !(flops_per_gpu_second > 0)) {
    throw UsageError("compute estimate: tokens and throughput must be positive");
  }
  ComputeEstimate c;
  c.tokens = tokens;
  c.flops = 6.0 * static_cast<double>(active_params) * tokens;
  c.flops_per_gpu_second = flops_per_gpu_second;
  c.gpu_hours = c.flops / flops_per_gpu_second / 3600.0;
  return c;
}

}  // namespace lineage::stages
