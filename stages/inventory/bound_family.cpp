#include "stages/inventory/bound_family.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "core/json_path.hpp"

namespace lineage::stages {
namespace {

const nlohmann::json kEmptyObject = nlohmann::json::object();

NameTemplate rename(const NameTemplate& t, const std::vector<std::pair<std::string, std::string>>& map) {
  NameTemplate out = t;
  auto& first = out.parts.front().first;
  for (const auto& [from, to] : map) {  // sorted longest `from` first
    if (first.compare(0, from.size(), from) == 0) {
      first = to + first.substr(from.size());
      break;
    }
  }
  return out;
}

struct Binder {
  const FamilyRegistry& registry;
  const AlternativeScorer* scorer;
  BoundFamily& out;

  std::size_t score(const std::vector<BoundEntry>& v) const { return scorer ? (*scorer)(v) : 0; }

  /// Binds `spec` (and its mounts) in `scope`, appending to `result`; `choices` gets a record.
  void bind(const FamilySpec& spec, const Scope* scope, Component component,
            const std::vector<std::vector<std::pair<std::string, std::string>>>& rename_chain,
            std::string_view forced_variant, const std::string& label, std::vector<BoundEntry>& result) {
    auto bind_entries = [&](const std::vector<FamilyEntry>& entries, std::vector<BoundEntry>& dst) {
      for (const auto& e : entries) {
        NameTemplate name = e.name;
        for (auto it = rename_chain.rbegin(); it != rename_chain.rend(); ++it) name = rename(name, *it);
        dst.push_back({&e, e.component.value_or(component), std::move(name), scope, spec.id});
      }
    };
    bind_entries(spec.tensors, result);
    if (!spec.variants.empty()) {
      std::size_t best = 0;
      if (!forced_variant.empty()) {
        bool found = false;
        for (std::size_t i = 0; i < spec.variants.size(); ++i) {
          if (spec.variants[i].name == forced_variant) {
            best = i;
            found = true;
          }
        }
        if (!found) throw ConfigError(spec.file, "no variant named '" + std::string(forced_variant) + "'");
      } else if (scorer) {
        std::size_t best_score = 0;
        for (std::size_t i = 0; i < spec.variants.size(); ++i) {
          std::vector<BoundEntry> trial;
          bind_entries(spec.variants[i].tensors, trial);
          const auto s = score(trial);
          if (s > best_score) {
            best_score = s;
            best = i;
          }
        }
      }
      bind_entries(spec.variants[best].tensors, result);
      out.choices.push_back(label + "variant " + spec.variants[best].name);
    }
    for (const auto& m : spec.mounts) {
      const auto& sub = registry.at(m.family);
      const nlohmann::json* cfg = scope->config;
      if (m.config_key && m.config_key->empty()) {
        cfg = &kEmptyObject;  // `config: null`: the mounted family gets no config at all
      } else if (m.config_key) {
        const auto* found = find_dotted(*scope->config, *m.config_key);
        cfg = (found && found->is_object()) ? found : &kEmptyObject;
      }
      out.scopes.push_back(Scope{cfg, &sub.vars, &m.vars, scope});
      const Scope* sub_scope = &out.scopes.back();
      std::size_t best = 0;
      std::size_t best_score = 0;
      std::vector<BoundEntry> best_entries;
      std::vector<std::string> best_choices;
      for (std::size_t r = 0; r < m.renames.size(); ++r) {
        auto chain = rename_chain;
        chain.push_back(m.renames[r]);
        std::vector<BoundEntry> trial;
        const auto saved = out.choices.size();
        bind(sub, sub_scope, m.component, chain, {}, label + m.family + ": ", trial);
        std::vector<std::string> trial_choices(out.choices.begin() + static_cast<long>(saved), out.choices.end());
        out.choices.resize(saved);
        const auto s = score(trial);
        if (r == 0 || s > best_score) {
          best = r;
          best_score = s;
          best_entries = std::move(trial);
          best_choices = std::move(trial_choices);
        }
      }
      out.choices.insert(out.choices.end(), best_choices.begin(), best_choices.end());
      if (m.renames.size() > 1) out.choices.push_back(label + m.family + ": names #" + std::to_string(best + 1));
      result.insert(result.end(), best_entries.begin(), best_entries.end());
    }
  }
};

}  // namespace

std::optional<expr::Value> ScopeEnvironment::lookup(std::string_view name) const {
  if (name == "layer" && layer_ >= 0) return expr::Value{static_cast<std::int64_t>(layer_)};
  if (name == "expert" && expert_ >= 0) return expr::Value{static_cast<std::int64_t>(expert_)};
  if (name == "index" && index_ >= 0) return expr::Value{static_cast<std::int64_t>(index_)};
  if (++depth_ > 64) {
    depth_ = 0;
    throw ConfigError("vars", "variable '" + std::string(name) + "' refers to itself");
  }
  struct Guard {
    int& d;
    ~Guard() { --d; }
  } guard{depth_};
  const bool defining = std::find(active_.begin(), active_.end(), name) != active_.end();
  auto evaluate_var = [&](const Scope& where, const std::string& k, const expr::Expression& e) {
    ScopeEnvironment inner(where, layer_, expert_, index_);
    inner.depth_ = depth_;
    inner.active_ = active_;
    inner.active_.push_back(k);
    return e.evaluate(inner);
  };
  if (!defining) {
    // A mount's vars are written in the mounting file, so they evaluate in the parent's scope.
    if (scope_.extra_vars && scope_.parent) {
      for (const auto& [k, e] : *scope_.extra_vars) {
        if (k == name) return evaluate_var(*scope_.parent, k, e);
      }
    }
    if (scope_.vars) {
      for (const auto& [k, e] : *scope_.vars) {
        if (k == name) return evaluate_var(scope_, k, e);
      }
    }
  }
  if (scope_.config) {
    if (const auto* j = find_dotted(*scope_.config, name)) return expr::Value::from_json(*j);
  }
  return std::nullopt;
}

expr::Value ScopeEnvironment::eval(const expr::Expression& e, const std::string& where) const {
  try {
    return e.evaluate(*this);
  } catch (const expr::MissingName& m) {
    throw MissingConfigKey(where, e.source(), m.name);
  }
}

BoundFamily bind_family(const FamilyRegistry& registry, const FamilySpec& spec, const nlohmann::json& config,
                        const AlternativeScorer* scorer, std::string_view variant) {
  BoundFamily out;
  out.family = spec.id;
  out.owned_configs.push_back(config);
  out.scopes.push_back(Scope{&out.owned_configs.back(), &spec.vars, nullptr, nullptr});
  Binder b{registry, scorer, out};
  b.bind(spec, &out.scopes.front(), Component::text, {}, variant, "", out.entries);
  // Stored dtype when shards are absent: the family's rule, else the usual config keys.
  static const expr::Expression kDefault(
      "torch_dtype ?? dtype ?? text_config.torch_dtype ?? "
      "text_config.dtype ?? \"bfloat16\"",
      "dtype_default");
  ScopeEnvironment env(out.scopes.front());
  const auto v = env.eval(spec.dtype_default ? *spec.dtype_default : kDefault, spec.file + ":dtype_default");
  if (const auto* s = std::get_if<std::string>(&v.v)) out.dtype_default = parse_torch_dtype(*s);
  return out;
}

}  // namespace lineage::stages
