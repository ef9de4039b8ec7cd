#pragma once
/// @file row_blocks.hpp
/// Large units cut into row blocks. A block is a run of the unit's logical rows whose size is
/// fixed by the unit alone (kRowBlockBytes of both sides' bytes per block, whole rows), never by
/// the rank count, so the blocks of a unit are the same on 1 or 1024 ranks. execute_unit runs
/// its pass block by block and merges the blocks' accumulators in block order (unit_kernel.hpp),
/// so a block computed anywhere merges to the same bits; the planner balances blocks instead of
/// whole units, and a 2-5 GB embedding unit no longer caps the balance.
///
/// What is split: units that read every row of both views in the pass (same_key, submatrix,
/// within, unsampled baselines) and keep no values. Sampled baselines, token-mapped units,
/// expert-sketch units and units whose values are kept stay one block (they are small, or their
/// work is not a row pass).

#include <cstdint>
#include <span>
#include <vector>

#include "stages/pair/comparison_unit.hpp"
#include "stages/plan/shard_plan.hpp"

namespace lineage::stages {

/// Bytes (both sides) per row block: small next to a rank's share of a 1T-class run at 1024 ranks
/// (about 2 GB), large next to the kernel's 4096-element block. A unit below it is one block, and
/// its statistics are those of the unsplit pass.
inline constexpr std::uint64_t kRowBlockBytes = std::uint64_t{16} << 20;

/// Rows [first_row, first_row + rows) of unit `unit_id`, block `index` of `count`.
struct RowBlock {
  std::uint64_t unit_id = 0;
  std::uint64_t index = 0;
  std::uint64_t count = 1;
  std::uint64_t first_row = 0;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;  ///< bytes read by the block's share of the pass (both sides)
};

/// Whether the unit's pass may be cut into row blocks (see the file comment).
[[nodiscard]] bool splits_into_row_blocks(const ComparisonUnit& unit) noexcept;

/// How many row blocks the unit has: 1 unless it splits and exceeds `block_bytes`; then
/// ceil(rows / floor(block_bytes / row bytes)) (at least one row per block). A pure function of
/// the unit's shape, dtypes and kind.
[[nodiscard]] std::uint64_t row_block_count(const ComparisonUnit& unit, std::uint64_t block_bytes = kRowBlockBytes);

/// Block `index` of the unit (see row_blocks); throws InternalError past the last.
[[nodiscard]] RowBlock row_block(const ComparisonUnit& unit, std::uint64_t index,
                                 std::uint64_t block_bytes = kRowBlockBytes);

/// The unit's row blocks in block order: one block covering the unit unless it splits and
/// exceeds `block_bytes` per block; then blocks of floor(block_bytes / row bytes) rows (at least
/// one), the last taking the rest. A pure function of the unit's shape, dtypes and kind.
[[nodiscard]] std::vector<RowBlock> row_blocks(const ComparisonUnit& unit, std::uint64_t block_bytes = kRowBlockBytes);

/// The cost of the run's work once large units are split: one per block, every unit's blocks in
/// unit then block order; a cost's unit_id is the block's position in that order (plan_shards
/// needs unique ids). What `lineage plan` balances; the blocks themselves are not kept (a
/// 100k-tensor pair has 400k of them).
[[nodiscard]] std::vector<UnitCost> row_block_costs(std::span<const ComparisonUnit> units,
                                                    std::uint64_t block_bytes = kRowBlockBytes);

}  // namespace lineage::stages
