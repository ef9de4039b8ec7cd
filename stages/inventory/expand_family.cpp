#include "stages/inventory/expand_family.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

std::int64_t int_of(const ScopeEnvironment& env, const expr::Expression& e, const std::string& where) {
  const auto v = env.eval(e, where);
  try {
    return v.as_int();
  } catch (const ConfigError&) {
    throw ConfigError(where, "expression '" + e.source() + "' gave " + v.to_string() + ", not an integer");
  }
}

std::int64_t required_var(const Scope& scope, const char* name, const std::string& where) {
  ScopeEnvironment env(scope);
  const auto v = env.lookup(name);
  if (!v || v->is_null()) throw ConfigError(where, std::string("needs the family variable '") + name + "'");
  return v->as_int();
}

Expansion expand_unchecked(const BoundFamily& family, std::size_t max_tensors);

std::size_t hash_of_name(std::string_view name) noexcept { return std::hash<std::string_view>{}(name); }

/// Fills out.by_hash. Two entries producing one name is a definition error: reported for the
/// first name produced a second time, in production order, naming both entries.
void index_names(Expansion& out, const BoundFamily& family) {
  const auto& tensors = out.tensors;
  auto& by_hash = out.by_hash;
  by_hash.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) by_hash.emplace_back(hash_of_name(tensors[i].name), i);
  std::sort(by_hash.begin(), by_hash.end());                  // by hash, then position
  std::optional<std::pair<std::size_t, std::size_t>> repeat;  // (first position, repeating position)
  for (std::size_t group = 0; group < by_hash.size();) {
    std::size_t end = group + 1;
    while (end < by_hash.size() && by_hash[end].first == by_hash[group].first) ++end;
    for (std::size_t x = group + 1; x < end; ++x) {  // a later position against the earlier ones
      for (std::size_t y = group; y < x; ++y) {
        const auto first = by_hash[y].second, again = by_hash[x].second;
        if (tensors[first].name != tensors[again].name) continue;
        if (!repeat || again < repeat->second) repeat = {first, again};
        break;
      }
    }
    group = end;
  }
  if (repeat) {
    const auto entry_of = [&](std::size_t position) -> const std::string& {
      return family.entries[static_cast<std::size_t>(tensors[position].entry)].entry->where;
    };
    throw ConfigError(entry_of(repeat->second), "produces '" + tensors[repeat->second].name + "', which " +
                                                    entry_of(repeat->first) + " produces too");
  }
}

}  // namespace

std::optional<std::size_t> Expansion::find(std::string_view name) const {
  const auto hash = hash_of_name(name);
  for (auto it = std::lower_bound(by_hash.begin(), by_hash.end(), std::pair<std::size_t, std::size_t>{hash, 0});
       it != by_hash.end() && it->first == hash; ++it) {
    if (tensors[it->second].name == name) return it->second;
  }
  return std::nullopt;
}

Expansion expand_bound_family(const BoundFamily& family, std::size_t max_tensors) {
  // A name no scope defines (a config lacking a key the family needs) is a ConfigError here, not
  // expr::MissingName escaping to the CLI as an unknown exception (found by fuzz_config_json).
  const auto& where = family.family;
  try {
    return expand_unchecked(family, max_tensors);
  } catch (const expr::MissingName& m) {
    throw ConfigError("family " + where, "needs '" + m.name + "', which the config does not give");
  }
}

namespace {

Expansion expand_unchecked(const BoundFamily& family, std::size_t max_tensors) {
  Expansion out;
  const auto too_many = [&](const std::string& where, const std::string& what, std::int64_t n) {
    throw InputError("config.json", "the config implies " + what + " = " + std::to_string(n) + " for " + where +
                                        ", more than the " + std::to_string(max_tensors) +
                                        " tensors this checkpoint can hold (family " + family.family + ")");
  };
  const auto limit = static_cast<std::int64_t>(std::min<std::size_t>(max_tensors, INT32_MAX));
  try {
    for (std::size_t ei = 0; ei < family.entries.size(); ++ei) {
      const auto& b = family.entries[ei];
      const auto& e = *b.entry;
      const Scope& scope = *b.scope;
      std::int64_t l0 = -1, l1 = 0;
      if (b.name.has(NameTemplate::Slot::layer)) {
        if (e.layer_range) {
          ScopeEnvironment env(scope);
          l0 = int_of(env, e.layer_range->first, e.where + ".layer_range");
          l1 = int_of(env, e.layer_range->second, e.where + ".layer_range");
        } else {
          l0 = 0;
          l1 = required_var(scope, "layers", e.where);
        }
      }
      std::int64_t i0 = -1, i1 = 0;
      if (e.index_range) {
        ScopeEnvironment env(scope);
        i0 = int_of(env, e.index_range->first, e.where + ".index_range");
        i1 = int_of(env, e.index_range->second, e.where + ".index_range");
      }
      if (l1 - l0 > limit) too_many(e.where, "layers", l1 - l0);
      if (i1 - i0 > limit) too_many(e.where, "indices", i1 - i0);
      const bool per_expert = b.name.has(NameTemplate::Slot::expert);
      for (std::int64_t layer = l0; layer < std::max<std::int64_t>(l1, l0 + 1); ++layer) {
        for (std::int64_t index = i0; index < std::max<std::int64_t>(i1, i0 + 1); ++index) {
          ScopeEnvironment env(scope, static_cast<int>(layer), -1, static_cast<int>(index));
          if (e.when && !env.eval(*e.when, e.where + ".when").truthy()) continue;
          std::vector<std::uint64_t> shape;
          for (std::size_t d = 0; d < e.shape.size(); ++d) {
            const auto v = int_of(env, e.shape[d], e.where + ".shape[" + std::to_string(d) + "]");
            if (v < 0) throw ConfigError(e.where + ".shape", "negative dimension " + std::to_string(v));
            shape.push_back(static_cast<std::uint64_t>(v));
          }
          std::int64_t experts = per_expert ? (e.expert_count ? int_of(env, *e.expert_count, e.where + ".expert_count")
                                                              : required_var(scope, "experts", e.where))
                                            : 0;
          if (experts > limit ||
              static_cast<std::size_t>(std::max<std::int64_t>(experts, 1)) + out.tensors.size() > max_tensors) {
            too_many(e.where, "experts x layers", static_cast<std::int64_t>(out.tensors.size()) + experts);
          }
          for (std::int64_t ex = per_expert ? 0 : -1; ex < (per_expert ? experts : 0); ++ex) {
            ExpectedTensor t;
            t.name = b.name.render(static_cast<int>(layer), static_cast<int>(ex), static_cast<int>(index));
            t.key = TensorKey{b.component,  e.role, static_cast<int>(layer), static_cast<int>(ex),
                              e.projection, e.kind, static_cast<int>(index)};
            t.shape = shape;
            t.dtype = e.dtype;
            t.layout = e.layout;
            t.optional = e.optional;
            t.entry = static_cast<int>(ei);
            out.tensors.push_back(std::move(t));
          }
        }
      }
    }
  } catch (...) {
    // A name produced twice before this error was the first problem: the check at each new
    // tensor that this index replaced reported it before anything a later tensor raised.
    index_names(out, family);
    throw;
  }
  index_names(out, family);
  return out;
}

}  // namespace

std::vector<ExpectedTensor> expand_family(const FamilyRegistry& registry, std::string_view family,
                                          const nlohmann::json& config, std::string_view variant) {
  const auto bound = bind_family(registry, registry.at(family), config, nullptr, variant);
  return expand_bound_family(bound).tensors;
}

std::optional<std::int64_t> family_int_var(const BoundFamily& family, std::string_view name) {
  // The root scope first; composites (VLMs) define experts/top_k in the mounted text decoder.
  std::vector<const Scope*> scopes;
  if (!family.scopes.empty()) scopes.push_back(&family.scopes.front());
  for (const auto& e : family.entries) {
    if (e.component == Component::text && e.scope && std::find(scopes.begin(), scopes.end(), e.scope) == scopes.end()) {
      scopes.push_back(e.scope);
    }
  }
  for (const Scope* scope : scopes) {
    ScopeEnvironment env(*scope);
    try {
      const auto v = env.lookup(name);
      if (v && !v->is_null()) return v->as_int();
    } catch (const expr::MissingName&) {
    }
  }
  return std::nullopt;
}

}  // namespace lineage::stages
