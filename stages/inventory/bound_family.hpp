#pragma once
/// @file bound_family.hpp
/// A family resolved for one concrete config: variants and mount/rename alternatives chosen,
/// every entry bound to the config scope its expressions evaluate in, names already renamed.
/// Matching stored names against it needs no config; expanding it (shapes, which tensors must
/// exist) does.

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"
#include "core/family_registry.hpp"

namespace lineage::stages {

/// Where an entry's expressions are evaluated: its (sub-)config, its family's vars, the mount's
/// extra vars, and the enclosing scope for anything not found.
struct Scope {
  const nlohmann::json* config = nullptr;
  const std::vector<std::pair<std::string, expr::Expression>>* vars = nullptr;
  const std::vector<std::pair<std::string, expr::Expression>>* extra_vars = nullptr;
  const Scope* parent = nullptr;
};

struct BoundEntry {
  const FamilyEntry* entry = nullptr;
  Component component = Component::text;
  NameTemplate name;  ///< after the mount renames
  const Scope* scope = nullptr;
  std::string family;
};

struct BoundFamily {
  std::string family;
  std::vector<std::string> choices;  ///< human-readable record of variants / renames chosen
  std::vector<BoundEntry> entries;
  std::optional<Dtype> dtype_default;

  BoundFamily() = default;
  BoundFamily(BoundFamily&&) = default;
  BoundFamily& operator=(BoundFamily&&) = default;
  BoundFamily(const BoundFamily&) = delete;
  BoundFamily& operator=(const BoundFamily&) = delete;

  // Storage that bound entries point into (deques keep addresses stable, also across moves).
  std::deque<Scope> scopes;
  std::deque<nlohmann::json> owned_configs;
};

/// Scores one alternative (e.g. how many stored names its templates match); the highest wins,
/// ties go to the first listed.
using AlternativeScorer = std::function<std::size_t(const std::vector<BoundEntry>&)>;

/// @param[in] scorer   chooses variants and rename alternatives; null: the first of each
/// @param[in] variant  force this top-level variant (by name); empty: choose
[[nodiscard]] BoundFamily bind_family(const FamilyRegistry& registry, const FamilySpec& spec,
                                      const nlohmann::json& config, const AlternativeScorer* scorer,
                                      std::string_view variant = {});

/// A family expression needs a name that neither the config nor the family's vars define: the
/// family does not apply to this config as written (the inventory then chooses by tensor names).
class MissingConfigKey : public ConfigError {
 public:
  MissingConfigKey(std::string where, const std::string& expression, std::string key)
      : ConfigError(std::move(where), "expression '" + expression + "' needs '" + key +
                                          "', which neither the config nor the family's vars define"),
        key_(std::move(key)) {}
  [[nodiscard]] const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

/// The expression environment of a scope with optional loop variables (-1 = unset).
class ScopeEnvironment : public expr::Environment {
 public:
  ScopeEnvironment(const Scope& scope, int layer = -1, int expert = -1, int index = -1)
      : scope_(scope), layer_(layer), expert_(expert), index_(index) {}
  [[nodiscard]] std::optional<expr::Value> lookup(std::string_view name) const override;
  /// Evaluates `e` and turns a missing name into a ConfigError naming `where`.
  [[nodiscard]] expr::Value eval(const expr::Expression& e, const std::string& where) const;

 private:
  const Scope& scope_;
  int layer_;
  int expert_;
  int index_;
  mutable int depth_ = 0;
  /// Vars being evaluated: inside `x: x ?? 1`, `x` means the config key, not the var itself.
  mutable std::vector<std::string_view> active_;
};

}  // namespace lineage::stages
