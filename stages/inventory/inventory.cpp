#include "stages/inventory/inventory.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "core/errors.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/generic_reader.hpp"
#include "stages/inventory/template_matcher.hpp"

namespace lineage::stages {
namespace {

const nlohmann::json kNoConfig = nlohmann::json::object();

std::string str_field(const nlohmann::json& c, const char* key) {
  const auto it = c.find(key);
  return (it != c.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

std::vector<std::string> architectures_of(const nlohmann::json& c) {
  std::vector<std::string> out;
  const auto it = c.find("architectures");
  if (it != c.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_string()) out.push_back(a.get<std::string>());
    }
  }
  return out;
}

/// How many listed names a candidate's templates claim.
AlternativeScorer name_scorer(const std::vector<ListedTensor>& tensors) {
  return [&tensors](const std::vector<BoundEntry>& entries) {
    TemplateMatcher m(entries);
    std::size_t n = 0;
    for (const auto& t : tensors) n += m.first(t.name) ? 1 : 0;
    return n;
  };
}

/// Companion rule for `name`: (rule, weight name) if the suffix fits.
std::optional<std::pair<const CompanionRule*, std::string>> companion_of(const std::vector<CompanionRule>& rules,
                                                                         const std::string& name) {
  for (const auto& r : rules) {
    const auto suffix = "." + r.suffix;
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return std::make_pair(&r, name.substr(0, name.size() - suffix.size()) + "." + r.replaces);
    }
  }
  return std::nullopt;
}

class DimsEnvironment : public expr::Environment {
 public:
  explicit DimsEnvironment(const std::vector<std::uint64_t>& dims) : dims_(dims) {}
  std::optional<expr::Value> lookup(std::string_view name) const override {
    if (name == "rank") return expr::Value{static_cast<std::int64_t>(dims_.size())};
    if (name.size() >= 2 && name[0] == 'd') {
      const auto i = static_cast<std::size_t>(std::stoul(std::string(name.substr(1))));
      if (i < dims_.size()) return expr::Value{static_cast<std::int64_t>(dims_[i])};
    }
    return std::nullopt;
  }

 private:
  const std::vector<std::uint64_t>& dims_;
};

void add_views(Inventory& inv, std::size_t ti) {
  const auto& t = inv.tensors[ti];
  if (!t.layout.stacked || !t.shape_known || t.shape.size() < 2) return;
  const auto experts = t.shape[0];
  std::uint64_t X = t.shape[1];
  std::uint64_t Y = t.shape.size() >= 3 ? t.shape[2] : 1;
  const bool vec = t.shape.size() == 2;  // stacked bias [E, n]
  // HF orientation [out, in]: rows = out.
  std::uint64_t rows = vec ? X : (t.layout.transposed ? Y : X);
  std::uint64_t cols = vec ? 1 : (t.layout.transposed ? X : Y);
  std::uint64_t rs = vec ? 1 : (t.layout.transposed ? 1 : Y);
  std::uint64_t cs = vec ? 1 : (t.layout.transposed ? Y : 1);
  const std::uint64_t per_expert = X * Y;
  for (std::uint64_t e = 0; e < experts; ++e) {
    TensorView v{ti, t.key, e * per_expert, rows, cols, rs, cs};
    v.key.expert = static_cast<int>(e);
    using G = StorageLayout::GateUp;
    if (t.layout.gate_up == G::none) {
      inv.views.push_back(v);
      continue;
    }
    auto gate = v;
    auto up = v;
    gate.key.projection = Projection::gate;
    up.key.projection = Projection::up;
    gate.rows = up.rows = rows / 2;
    if (t.layout.gate_up == G::concatenated) {
      up.offset += (rows / 2) * rs;
    } else {
      gate.row_stride = up.row_stride = 2 * rs;
      up.offset += rs;
    }
    inv.views.push_back(gate);
    inv.views.push_back(up);
  }
}

void summarise(Inventory& inv) {
  std::map<std::pair<Component, TensorRole>, RoleSummary> roles;
  std::map<std::pair<Component, TensorRole>, std::map<int, std::set<int>>> experts;
  std::map<std::pair<Component, TensorRole>, std::set<int>> layers;
  std::uint64_t routed = 0;
  for (const auto& t : inv.tensors) {
    const auto k = std::make_pair(t.key.component, t.key.role);
    auto& r = roles[k];
    r.component = t.key.component;
    r.role = t.key.role;
    ++r.tensors;
    const bool param = t.key.kind == ParamKind::weight || t.key.kind == ParamKind::bias;
    const auto n = t.shape_known ? t.elements() : 0;
    if (param) r.params += n;
    r.bytes += t.data_end > t.data_begin ? t.data_end - t.data_begin : (t.dtype ? n * dtype_size(*t.dtype) : 0);
    if (t.dtype) r.dtypes.insert(*t.dtype);
    if (t.key.layer >= 0) layers[k].insert(t.key.layer);
    if (t.layout.stacked && t.shape_known && !t.shape.empty()) {
      for (std::uint64_t e = 0; e < t.shape[0]; ++e) experts[k][t.key.layer].insert(static_cast<int>(e));
    } else if (t.key.expert >= 0) {
      experts[k][t.key.layer].insert(t.key.expert);
    }
    if (param) inv.total_params += n;
    if (param && t.key.role == TensorRole::routed_expert) routed += n;
  }
  for (auto& [k, r] : roles) {
    r.layers = static_cast<int>(layers[k].size());
    for (const auto& [layer, set] : experts[k])
      r.experts_per_layer = std::max(r.experts_per_layer, static_cast<int>(set.size()));
    inv.total_bytes += r.bytes;
    inv.roles.push_back(r);
  }
  inv.active_params = inv.total_params;
  if (inv.experts && inv.top_k && *inv.experts > 0 && routed > 0) {
    const double share = std::min(1.0, static_cast<double>(*inv.top_k) / static_cast<double>(*inv.experts));
    inv.active_params = inv.total_params - routed + static_cast<std::uint64_t>(static_cast<double>(routed) * share);
  }
}

/// What a reading needs besides the family: the listing, the config and the name scorer.
/// The layer and expert indices the stored names of one config scope hold (text component).
struct IndicesSeen {
  std::set<int> layers;
  std::set<int> experts;
};

/// The family variable `name` as defined in `scope` or an enclosing one (null: not defined).
const expr::Expression* var_of(const Scope* scope, std::string_view name) {
  for (; scope; scope = scope->parent) {
    for (const auto* vars : {scope->extra_vars, scope->vars}) {
      if (!vars) continue;
      for (const auto& [n, e] : *vars) {
        if (n == name) return &e;
      }
    }
  }
  return nullptr;
}

/// "0-31 only (32 layers)" / "none": what the stored names hold of an index.
std::string held_text(const std::set<int>& held, const char* what) {
  if (held.empty()) return std::string("no ") + what;
  return std::string(what) + " " + std::to_string(*held.begin()) + "-" + std::to_string(*held.rbegin()) + " only (" +
         std::to_string(held.size()) + " " + what + ")";
}

/// A config that implies more layers or experts than the index holds is an error naming the key,
/// its value and what the names hold. Only for a reading whose required tensors are missing (a
/// complete reading never trips it), and only at the top: the config's count runs past the
/// highest index stored. Experts are checked only where names carry expert indices (stacked
/// layouts hold all experts in one tensor, whose shape is checked instead).
void check_counts_against_names(const std::map<const Scope*, IndicesSeen>& seen, const std::string& config_file) {
  for (const auto& [scope, held] : seen) {
    if (!scope) continue;
    for (const auto& [var, indices, what] :
         {std::tuple{"layers", &held.layers, "layers"}, std::tuple{"experts", &held.experts, "experts"}}) {
      if (std::string_view(var) == "experts" && indices->empty()) continue;
      const auto* e = var_of(scope, var);
      if (!e) continue;
      std::int64_t value = 0;
      try {
        const auto v = ScopeEnvironment(*scope).lookup(var);
        if (!v || v->is_null()) continue;
        value = v->as_int();
      } catch (const std::exception&) {
        continue;  // not a number here: the expansion reports it
      }
      const std::int64_t top = indices->empty() ? 0 : *indices->rbegin() + 1;
      if (value <= top) continue;
      const auto& src = e->source();
      const bool plain_key =
          !src.empty() && src.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.") ==
                              std::string::npos;
      const auto named = plain_key ? "key '" + src + "'" : "the family's " + std::string(var) + " ('" + src + "')";
      throw InputError(config_file, named + " = " + std::to_string(value) + ", but the index holds " +
                                        held_text(*indices, what) +
                                        ": the config implies more tensors than the index holds");
    }
  }
}

struct Reader {
  const TensorListing& listing;
  const nlohmann::json& cfg;
  bool has_config;
  const FamilyRegistry& registry;
  const AlternativeScorer& scorer;

  /// Fields every reading fills alike.
  [[nodiscard]] Inventory start() const {
    Inventory inv;
    inv.model_dir = listing.model_dir;
    inv.index_only = listing.index_only;
    inv.has_config = has_config;
    inv.unindexed = listing.unindexed;
    inv.index_total_size = listing.index_total_size;
    inv.index_total_parameters = listing.index_total_parameters;
    return inv;
  }

  /// Quantisation companions join the classified weight they belong to (else: unclaimed).
  void add_companions(Inventory& inv, const std::vector<std::size_t>& companions,
                      std::optional<Dtype> dtype_default) const {
    if (companions.empty()) return;  // most checkpoints: no index of 100k names to build
    std::unordered_map<std::string, std::size_t> classified_index;
    classified_index.reserve(inv.tensors.size());
    for (std::size_t i = 0; i < inv.tensors.size(); ++i) classified_index.emplace(inv.tensors[i].name, i);
    for (auto li : companions) {
      const auto& lt = listing.tensors[li];
      const auto [rule, weight] = *companion_of(registry.companion_rules(), lt.name);
      const auto it = classified_index.find(weight);
      if (it == classified_index.end()) {
        inv.unclaimed.push_back(lt.name);
        continue;
      }
      auto& w = inv.tensors[it->second];
      if (rule->weight_dtype && listing.index_only) w.dtype = rule->weight_dtype;
      ClassifiedTensor c;
      c.name = lt.name;
      c.key = w.key;
      c.key.kind = rule->kind;
      c.file = lt.file;
      c.data_begin = lt.data_begin;
      c.data_end = lt.data_end;
      if (lt.shape) {
        c.shape = *lt.shape;
        c.dtype = lt.dtype;
      } else if (w.shape_known) {
        DimsEnvironment env(w.shape);
        for (const auto& e : rule->shape) {
          try {
            c.shape.push_back(static_cast<std::uint64_t>(e.evaluate(env).as_int()));
          } catch (const expr::MissingName& m) {
            throw ConfigError(rule->where, "shape needs '" + m.name + "' but '" + weight + "' has rank " +
                                               std::to_string(w.shape.size()));
          }
        }
        c.dtype = rule->dtype ? rule->dtype : dtype_default;
      } else {
        c.shape_known = false;
      }
      inv.tensors.push_back(std::move(c));
    }
  }

  static void finish(Inventory& inv) {
    for (std::size_t i = 0; i < inv.tensors.size(); ++i) add_views(inv, i);
    summarise(inv);
  }

  /// Reads every name with `spec`. With `apply_config` the family is expanded for the config
  /// (missing tensors, shape checks, index-only shapes); throws ConfigError when its expressions
  /// cannot be evaluated for this config. Without it, names only.
  /// With `check_counts` (the family the config names, or --family), a config implying more
  /// layers or experts than the names hold is an InputError (check_counts_against_names).
  [[nodiscard]] Inventory with_family(const FamilySpec& spec, bool apply_config, bool check_counts = false) const {
    Inventory inv = start();
    inv.family = spec.id;
    const auto bound = bind_family(registry, spec, cfg, &scorer);
    inv.choices = bound.choices;
    const TemplateMatcher matcher(bound.entries);
    std::optional<Expansion> expansion;
    // A config implying far more tensors than the checkpoint holds is refused before expanding.
    if (apply_config) {
      try {
        expansion = expand_bound_family(bound, std::min(kMaxExpectedTensors, 4 * listing.tensors.size() + 4096));
      } catch (const InputError& e) {
        throw InputError((std::filesystem::path(listing.model_dir) / e.file()).string(), e.reason());
      }
    }
    auto int_var = [&](const char* name) -> std::optional<std::int64_t> {
      try {
        return family_int_var(bound, name);
      } catch (const ConfigError&) {
        return std::nullopt;  // e.g. read by names only from a config that lacks the key
      }
    };
    inv.experts = int_var("experts");
    inv.top_k = int_var("top_k");

    std::vector<std::size_t> companions;  // listing indices of companions, resolved second
    inv.tensors.reserve(listing.tensors.size());
    std::vector<bool> seen_expected(expansion ? expansion->tensors.size() : 0, false);
    std::map<const Scope*, IndicesSeen> seen_indices;
    std::vector<TemplateMatch> found;
    for (std::size_t li = 0; li < listing.tensors.size(); ++li) {
      const auto& lt = listing.tensors[li];
      matcher.matches(lt.name, found);
      if (found.empty()) {
        if (companion_of(registry.companion_rules(), lt.name))
          companions.push_back(li);
        else
          inv.unclaimed.push_back(lt.name);
        continue;
      }
      // Templates shared by entries with different `when` (rare): the one the config expects wins.
      TemplateMatch m = found.front();
      const ExpectedTensor* exp = nullptr;
      if (expansion) {
        if (const auto at = expansion->find(lt.name)) {
          exp = &expansion->tensors[*at];
          seen_expected[*at] = true;
          for (const auto& f : found) {
            if (static_cast<int>(f.entry) == exp->entry) m = f;
          }
        }
      }
      const auto& b = bound.entries[m.entry];
      if (b.component == Component::text) {
        auto& held = seen_indices[b.scope];
        if (m.layer >= 0) held.layers.insert(m.layer);
        if (m.expert >= 0) held.experts.insert(m.expert);
      }
      ClassifiedTensor c;
      c.name = lt.name;
      c.key = TensorKey{b.component, b.entry->role, m.layer, m.expert, b.entry->projection, b.entry->kind, m.index};
      c.file = lt.file;
      c.layout = b.entry->layout;
      c.expected = exp != nullptr || !expansion;
      c.data_begin = lt.data_begin;
      c.data_end = lt.data_end;
      if (lt.shape) {
        c.shape = *lt.shape;
        c.dtype = lt.dtype;
        if (exp && exp->shape != *lt.shape) inv.shape_mismatches.push_back({lt.name, exp->shape, *lt.shape});
      } else if (exp) {
        c.shape = exp->shape;
        c.dtype = exp->dtype ? exp->dtype : bound.dtype_default;
      } else {
        c.shape_known = false;
      }
      inv.tensors.push_back(std::move(c));
    }
    add_companions(inv, companions, bound.dtype_default);
    if (expansion) {
      for (std::size_t i = 0; i < expansion->tensors.size(); ++i) {
        if (seen_expected[i]) continue;
        const auto& t = expansion->tensors[i];
        (t.optional ? inv.optional_missing : inv.required_missing).push_back(t.name);
      }
      if (check_counts && !inv.required_missing.empty()) {
        check_counts_against_names(seen_indices, (std::filesystem::path(listing.model_dir) / "config.json").string());
      }
    }
    finish(inv);
    return inv;
  }

  /// Reads every name with the generic decoder patterns (no config, no shapes to check).
  [[nodiscard]] Inventory generic(const GenericReading& reading) const {
    Inventory inv = start();
    inv.family = reading.family;
    inv.generic = true;
    GenericReader gr(reading);
    std::vector<std::size_t> companions;
    inv.tensors.reserve(listing.tensors.size());
    for (std::size_t li = 0; li < listing.tensors.size(); ++li) {
      const auto& lt = listing.tensors[li];
      const auto key = gr.classify(lt.name);
      if (!key) {
        if (companion_of(registry.companion_rules(), lt.name))
          companions.push_back(li);
        else
          inv.unclaimed.push_back(lt.name);
        continue;
      }
      ClassifiedTensor c;
      c.name = lt.name;
      c.key = *key;
      c.file = lt.file;
      c.data_begin = lt.data_begin;
      c.data_end = lt.data_end;
      c.shape_known = lt.shape.has_value();
      if (lt.shape) c.shape = *lt.shape;
      c.dtype = lt.dtype;
      inv.tensors.push_back(std::move(c));
    }
    add_companions(inv, companions, std::nullopt);
    for (const auto& a : gr.ambiguities()) inv.notes.push_back("generic reading: " + a + "; left unclaimed");
    finish(inv);
    return inv;
  }
};

/// "needs 'q_lora_rank', which this config lacks" (or why else the family does not apply).
std::string does_not_apply(const ConfigError& e) {
  if (const auto* m = dynamic_cast<const MissingConfigKey*>(&e))
    return "needs '" + m->key() + "', which this config lacks";
  return std::string("does not apply to this config (") + e.what() + ")";
}

/// "architectures [X], model_type y" as the config spells them.
std::string config_identity(const nlohmann::json& cfg) {
  std::string out = "architectures [";
  const auto archs = architectures_of(cfg);
  for (std::size_t i = 0; i < archs.size(); ++i) out += (i ? ", " : "") + archs[i];
  out += "]";
  const auto mt = str_field(cfg, "model_type");
  return out + ", model_type " + (mt.empty() ? "(none)" : mt);
}

std::string claimed_text(const Inventory& inv, std::size_t total) {
  return std::to_string(total - inv.unclaimed.size()) + " of " + std::to_string(total) + " claimed";
}

/// Chooses by tensor names: the family whose templates claim the most stored names; among those,
/// one whose reading accounts for every tensor, then one whose expressions apply to the config,
/// then the family the config named, then fewer missing tensors and shape mismatches, then the
/// more specific family (fewer templates). When no family accounts for every tensor and the
/// generic decoder patterns claim more names, the generic reading. `why` says why the config
/// did not decide (empty: no config); the choice is recorded in Inventory::notes.
Inventory choose_by_names(const Reader& reader, const FamilySpec* named, const std::string& why) {
  const auto total = reader.listing.tensors.size();
  struct Candidate {
    const FamilySpec* spec;
    std::size_t claimed;
    std::size_t templates;
  };
  std::vector<Candidate> candidates;
  std::size_t top = 0;
  for (const auto& [id, f] : reader.registry.all()) {
    BoundFamily b;
    try {
      b = bind_family(reader.registry, f, reader.cfg, &reader.scorer);
    } catch (const ConfigError&) {
      continue;  // cannot even bind (e.g. its dtype rule needs a key the config lacks)
    }
    const auto s = reader.scorer(b.entries);
    if (s == 0) continue;
    candidates.push_back({&f, s, b.entries.size()});
    top = std::max(top, s);
  }
  // Only the families claiming the most names can account for every tensor: read just those.
  using Rank = std::tuple<bool, bool, bool, long, long, long>;
  std::optional<Inventory> best;
  Rank best_rank{};
  std::string best_failure;
  bool best_applied = false;
  for (const auto& c : candidates) {
    if (c.claimed != top) continue;
    Inventory trial;
    std::string failure;
    bool applied = false;
    if (reader.has_config) {
      try {
        trial = reader.with_family(*c.spec, true);
        applied = true;
      } catch (const ConfigError& e) {
        failure = does_not_apply(e);
      }
    }
    if (!applied) trial = reader.with_family(*c.spec, false);
    const Rank rank{trial.clean(),
                    applied,
                    c.spec == named,
                    -static_cast<long>(trial.required_missing.size()),
                    -static_cast<long>(trial.shape_mismatches.size()),
                    -static_cast<long>(c.templates)};
    if (!best || rank > best_rank) {
      best = std::move(trial);
      best_rank = rank;
      best_failure = failure;
      best_applied = applied;
    }
  }
  const std::string lead = why.empty() ? "" : why + "; ";
  auto chose_family = [&]() {
    Inventory inv = std::move(*best);
    inv.family_reason = "tensor names (" + claimed_text(inv, total) + ")";
    if (reader.has_config) {
      std::string note = lead + "chose " + inv.family + " by tensor names (" + claimed_text(inv, total) + ")";
      if (!best_applied) {
        note += inv.family == (named ? named->id : std::string()) ? "; read by names only"
                                                                  : "; read by names only (it " + best_failure + ")";
      }
      inv.notes.insert(inv.notes.begin(), note);
    }
    return inv;
  };
  if (best && best->clean()) return chose_family();

  const auto* reading = reader.registry.generic_reading();
  if (!reading) {
    if (best) return chose_family();
    Inventory inv = reader.start();
    for (const auto& t : reader.listing.tensors) inv.unclaimed.push_back(t.name);
    inv.family_reason = "nothing (no family claims a name, and the family folder has no _generic_decoder.yaml)";
    inv.notes.push_back(lead + "no family fits and there is no generic decoder reading; every tensor unclaimed");
    Reader::finish(inv);
    return inv;
  }
  auto generic = reader.generic(*reading);
  const auto generic_claims = total - generic.unclaimed.size();
  if (best && generic_claims <= total - best->unclaimed.size()) return chose_family();
  generic.family_reason = "generic decoder patterns (" + claimed_text(generic, total) + ")";
  const std::string best_text =
      best ? "best: " + best->family + ", " + claimed_text(*best, total) : std::string("no family file claims a name");
  generic.notes.insert(generic.notes.begin(), lead + "no family fits (" + best_text + "); generic decoder reading (" +
                                                  claimed_text(generic, total) + ")");
  return generic;
}
}  // namespace

std::uint64_t ClassifiedTensor::elements() const noexcept {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Inventory estimate_generic_inventory(const nlohmann::json& config, const FamilyRegistry& registry,
                                     const std::string& model_dir) {
  const auto* reading = registry.generic_reading();
  if (!reading || !reading->estimate) {
    throw InputError(model_dir,
                     "config.json only, no family file matches it, and the family folder's _generic_decoder.yaml "
                     "has no estimate section: cannot plan without tensor names (put the published "
                     "model.safetensors.index.json beside config.json, or add a family file)");
  }
  // A composite's text decoder is the first text sub-config it has; every other sub-config is a tower.
  const nlohmann::json* text = &config;
  std::string text_key;
  for (const auto& key : reading->text_configs) {
    const auto it = config.find(key);
    if (it != config.end() && it->is_object()) {
      text = &*it;
      text_key = key;
      break;
    }
  }
  std::vector<std::string> towers;
  for (const auto& [key, value] : config.items()) {
    const bool named =
        std::find(reading->tower_configs.begin(), reading->tower_configs.end(), key) != reading->tower_configs.end();
    const bool sub = key.size() > 7 && key.compare(key.size() - 7, 7, "_config") == 0 && value.is_object() &&
                     value.contains("model_type");
    if (key != text_key && value.is_object() && (named || sub)) towers.push_back(key);
  }
  const auto bound = bind_family(registry, *reading->estimate, *text, nullptr);
  const auto expansion = expand_bound_family(bound);

  Inventory inv;
  inv.model_dir = model_dir;
  inv.family = reading->family;
  inv.generic = true;
  inv.estimated = true;
  inv.index_only = true;
  inv.has_config = true;
  inv.family_reason = "generic estimate from config.json (no family file names this model's tensors)";
  for (const auto& t : expansion.tensors) {
    if (t.optional) continue;
    ClassifiedTensor c;
    c.name = t.name;
    c.key = t.key;
    c.shape = t.shape;
    c.dtype = t.dtype ? t.dtype : bound.dtype_default;
    c.layout = t.layout;
    inv.tensors.push_back(std::move(c));
  }
  const auto positive = [&](const char* name) -> std::optional<std::int64_t> {
    const auto v = family_int_var(bound, name);
    return v && *v > 0 ? v : std::nullopt;
  };
  inv.experts = positive("experts");
  inv.top_k = positive("top_k");
  std::string note = "config.json names no family whose tensor names are known (" + config_identity(config) +
                     "): the listing is a GENERIC ESTIMATE of the tensors its keys imply (" +
                     std::filesystem::path(reading->file).filename().string() + ", estimate" +
                     (text_key.empty() ? "" : "; text decoder from " + text_key) +
                     "); sizes follow the config, the names are not the model's, so a run needs the real weight "
                     "map (model.safetensors.index.json or the shards)";
  inv.notes.push_back(note);
  if (!towers.empty()) {
    std::string list;
    for (const auto& t : towers) list += (list.empty() ? "" : ", ") + t;
    inv.notes.push_back("towers not in the estimate (their bytes are missing from it): " + list);
  }
  Reader::finish(inv);
  return inv;
}

const FamilySpec* select_family_by_config(const FamilyRegistry& registry, const nlohmann::json& config) {
  const auto archs = architectures_of(config);
  const auto model_type = str_field(config, "model_type");
  const FamilySpec* best = nullptr;
  int best_score = 0;
  bool tie = false;
  for (const auto& [id, f] : registry.all()) {
    int score = 0;
    for (const auto& a : archs) {
      if (std::find(f.architectures.begin(), f.architectures.end(), a) != f.architectures.end()) score = 2;
    }
    if (!model_type.empty() &&
        std::find(f.model_types.begin(), f.model_types.end(), model_type) != f.model_types.end()) {
      score += 1;
    }
    if (score > best_score) {
      best = &f;
      best_score = score;
      tie = false;
    } else if (score > 0 && score == best_score) {
      tie = true;
    }
  }
  if (tie) {
    throw ConfigError("families",
                      "two families match architectures/model_type of this config equally; "
                      "make one of them more specific");
  }
  return best;
}

Inventory build_inventory(const TensorListing& listing, const nlohmann::json* config, const FamilyRegistry& registry,
                          const std::optional<std::string>& family_override) {
  const nlohmann::json& cfg = config ? *config : kNoConfig;
  const auto scorer = name_scorer(listing.tensors);
  const Reader reader{listing, cfg, config != nullptr, registry, scorer};

  if (family_override) {
    auto inv = reader.with_family(registry.at(*family_override), config != nullptr, true);
    inv.family_reason = "--family";
    return inv;
  }
  // 1. The family the config names (architectures, then model_type), if its expressions apply.
  std::string why;  // why the config did not decide; empty without a config
  const FamilySpec* named = nullptr;
  if (config) {
    named = select_family_by_config(registry, cfg);
    if (named) {
      try {
        auto inv = reader.with_family(*named, true, true);
        inv.family_reason = "config.json architectures/model_type";
        return inv;
      } catch (const ConfigError& e) {
        why = "family " + named->id + " " + does_not_apply(e);
      }
    } else {
      why = "config.json names no known family (" + config_identity(cfg) + ")";
    }
  }
  // 2. By tensor names; 3. the generic decoder reading when no family fits.
  return choose_by_names(reader, named, why);
}

}  // namespace lineage::stages
