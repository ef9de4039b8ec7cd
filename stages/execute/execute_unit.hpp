#pragma once
/// @file execute_unit.hpp
/// Computes one comparison unit from the stored bytes of its two tensors: streams both views in
/// fixed blocks through the statistics of docs/methods.md, hashes the raw bytes and keeps
/// small vectors whole. The chunking (kernel blocks within row blocks, stages/plan/row_blocks.hpp)
/// is fixed by the unit, never by the rank count, so a unit's result is bit-identical on 1 or 1000
/// ranks.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stages/execute/unit_kernel.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/pair/comparison_unit.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::stages {

/// @param[in] a_tensor, b_tensor  the whole stored bytes of each side's tensor (views index into them)
/// @param[in] null  the permutation null's options (sample size, relabellings)
[[nodiscard]] UnitOutcome execute_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                       std::span<const std::byte> b_tensor, const NullOptions& null = {});

/// The pass's accumulators over one row block of the unit (row_blocks(unit)), from fresh sums:
/// what execute_unit merges, in block order, into the unit's moment statistics. Any block may be
/// computed anywhere and in any order; merged with UnitSums::merge in block order, the blocks give
/// execute_unit's sums bit for bit. A block with count 1 covers every element the pass reads.
[[nodiscard]] UnitSums row_block_sums(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                      std::span<const std::byte> b_tensor, const RowBlock& block,
                                      const NullOptions& null = {});

/// The raw-byte hashes of a unit's two sides (UnitOutcome::hash_a/hash_b), computed alone: the
/// same elements in the same order as execute_unit, without the statistics. A resumed run
/// re-checks the units it takes from the journal with it (a changed shard hashes differently).
struct UnitHashes {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};
[[nodiscard]] UnitHashes hash_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                   std::span<const std::byte> b_tensor, const NullOptions& null = {});

}  // namespace lineage::stages
