#pragma once
/// @file family_registry.hpp
/// Every loaded family definition plus the quantisation companion rules. Filled by
/// io::load_family_registry; read-only afterwards (never mutated by a stage).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/family_spec.hpp"
#include "core/generic_reading.hpp"

namespace lineage {

class FamilyRegistry {
 public:
  /// Adds a family; throws ConfigError on a duplicate id.
  void add(FamilySpec spec);
  void set_companion_rules(std::vector<CompanionRule> rules) { rules_ = std::move(rules); }
  void set_quantisation(QuantisationReading q) { quantisation_ = std::move(q); }
  void set_generic_reading(GenericReading reading) { generic_ = std::move(reading); }
  /// Checks cross-file references (mounted families exist, no mount cycles).
  void validate() const;

  [[nodiscard]] const FamilySpec* find(std::string_view id) const;
  /// Throws ConfigError naming the known ids.
  [[nodiscard]] const FamilySpec& at(std::string_view id) const;
  [[nodiscard]] const std::map<std::string, FamilySpec, std::less<>>& all() const noexcept { return specs_; }
  [[nodiscard]] const std::vector<CompanionRule>& companion_rules() const noexcept { return rules_; }
  [[nodiscard]] const QuantisationReading& quantisation() const noexcept { return quantisation_; }
  /// The fallback reading when no family fits; null when the family folder has none.
  [[nodiscard]] const GenericReading* generic_reading() const noexcept { return generic_ ? &*generic_ : nullptr; }

 private:
  std::map<std::string, FamilySpec, std::less<>> specs_;
  std::vector<CompanionRule> rules_;
  QuantisationReading quantisation_;
  std::optional<GenericReading> generic_;
};

}  // namespace lineage
