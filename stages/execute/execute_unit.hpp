#pragma once
/// @file execute_unit.hpp
/// Computes one comparison unit from the stored bytes of its two tensors: streams both views in
/// fixed blocks through the statistics of docs/methods.md, hashes the raw bytes and keeps
/// small vectors whole. The chunking is fixed by the unit, never by the rank count, so a unit's
/// result is bit-identical on 1 or 1000 ranks.

#include <span>
#include <string>
#include <vector>

#include "stages/execute/unit_outcome.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

/// @param[in] a_tensor, b_tensor  the whole stored bytes of each side's tensor (views index into them)
/// @param[in] null  the permutation null's options (sample size, relabellings)
[[nodiscard]] UnitOutcome execute_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                       std::span<const std::byte> b_tensor, const NullOptions& null = {});

}  // namespace lineage::stages
