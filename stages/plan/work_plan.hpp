#pragma once
/// @file work_plan.hpp
/// What compare's ranks compute: work items, each a whole unit or one row block of a unit split
/// into blocks (row_blocks.hpp), spread over the ranks by the byte-balanced shard plan
/// (shard_plan.hpp). A unit of one block stays one item; a unit of several blocks is one item
/// per block still to compute, so a 2-5 GB embedding unit is spread over many ranks. The items
/// depend only on the units, the block size and what the journal already holds, never on the
/// rank count; their results merge in block order (stages/execute/execute_unit.hpp
/// merge_row_blocks), so the outcome does not depend on which rank computed which block.

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "io/spilled_vector.hpp"
#include "stages/pair/comparison_unit.hpp"
#include "stages/plan/row_blocks.hpp"
#include "stages/plan/shard_plan.hpp"

namespace lineage::stages {

struct WorkItem {
  std::uint64_t unit_id = 0;
  std::optional<RowBlock> block;  ///< none: the whole unit, computed by execute_unit
  std::uint64_t bytes = 0;
};

struct WorkPlan {
  /// A WorkItem a unit or row block (72 bytes: 17 MB on a 233k-unit pair, held through the
  /// pass): spilled like the plan's units (io/spilled_vector.hpp).
  io::SpilledVector<WorkItem> items;
  /// Over `items`: the ids in units_of_rank index `items`.
  ShardPlan shards;

  /// The items of rank `rank`, in processing order.
  [[nodiscard]] std::vector<const WorkItem*> items_of_rank(int rank) const;
  /// The rank given each unit (of `unit_count`): the rank of its whole-unit item or of its block
  /// 0, else (block 0 already journaled) of its first planned block; -1 for units not planned.
  [[nodiscard]] std::vector<std::int32_t> rank_of_unit(std::size_t unit_count) const;
  [[nodiscard]] std::size_t block_items() const;
};

/// (unit id, block index) of row blocks an earlier run journaled.
using DoneBlocks = std::set<std::pair<std::uint64_t, std::uint64_t>>;

/// The work left: every unit not done (done_units[id] == 0) as one item when it is one block
/// (row_blocks(unit, block_bytes)), else one item per block not in `done_blocks`; planned over
/// `ranks` by plan_shards.
[[nodiscard]] WorkPlan plan_work(std::span<const ComparisonUnit> units, std::span<const std::uint8_t> done_units,
                                 const DoneBlocks& done_blocks, int ranks, std::uint64_t block_bytes);

/// Whole-unit items for a shard plan over unit ids (every unit of `units` runs whole): items[id]
/// is unit id, so the plan's ids index items as they index units.
[[nodiscard]] WorkPlan whole_unit_work(std::span<const ComparisonUnit> units, ShardPlan shards);

}  // namespace lineage::stages
