#pragma once
/// @file expand_family.hpp
/// Expands a bound family for its config into every tensor the config says must (or may)
/// exist, with shapes. Two entries producing one name is a definition error (ConfigError).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/inventory/bound_family.hpp"
#include "stages/inventory/expected_tensor.hpp"

namespace lineage::stages {

struct Expansion {
  std::vector<ExpectedTensor> tensors;
  /// (hash of the name, position in `tensors`), sorted: the names' index. No name is copied
  /// into it (a hash map of strings was a node and a copy per name, and with its lookups a
  /// tenth of reading a 100k-tensor checkpoint).
  std::vector<std::pair<std::size_t, std::size_t>> by_hash;
  /// The position of the tensor named `name`; nullopt when the family does not produce it.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const;
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
