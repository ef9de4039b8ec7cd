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

/// Expected tensors a config may imply when nothing else bounds it (the largest real maps hold
/// about 10^5 names). Every loop bound is checked against it before anything is allocated.
inline constexpr std::size_t kMaxExpectedTensors = 1'000'000;

/// @param[in] max_tensors  more expected tensors than this is an InputError naming the family
///                         variable (the config implies more than the checkpoint can hold)
[[nodiscard]] Expansion expand_bound_family(const BoundFamily& family, std::size_t max_tensors = kMaxExpectedTensors);

/// Convenience for writers of checkpoints (tools/synth): bind `family` with the first variant
/// (or `variant`) and first naming alternative, and expand it.
[[nodiscard]] std::vector<ExpectedTensor> expand_family(const FamilyRegistry& registry, std::string_view family,
                                                        const nlohmann::json& config, std::string_view variant = {});

/// Evaluates an integer variable of the family's root scope (e.g. "experts", "top_k");
/// nullopt when it is not defined.
[[nodiscard]] std::optional<std::int64_t> family_int_var(const BoundFamily& family, std::string_view name);

}  // namespace lineage::stages
