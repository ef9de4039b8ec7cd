#pragma once
/// @file expand_family.hpp
/// Expands a bound family for its config into every tensor the config says must (or may)
/// exist, with shapes. Two entries producing one name is a definition error (ConfigError).

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stages/inventory/bound_family.hpp"
#include "stages/inventory/expected_tensor.hpp"

namespace lineage::stages {

struct Expansion {
  std::vector<ExpectedTensor> tensors;
  std::unordered_map<std::string, std::size_t> by_name;
};

[[nodiscard]] Expansion expand_bound_family(const BoundFamily& family);

/// Convenience for writers of checkpoints (tools/synth): bind `family` with the first variant
/// (or `variant`) and first naming alternative, and expand it.
[[nodiscard]] std::vector<ExpectedTensor> expand_family(const FamilyRegistry& registry, std::string_view family,
                                                        const nlohmann::json& config, std::string_view variant = {});

/// Evaluates an integer variable of the family's root scope (e.g. "experts", "top_k");
/// nullopt when it is not defined.
[[nodiscard]] std::optional<std::int64_t> family_int_var(const BoundFamily& family, std::string_view name);

}  // namespace lineage::stages
