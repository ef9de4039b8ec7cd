#pragma once
/// @file shard_plan.hpp
/// Byte-balanced assignment of comparison units to ranks: longest-processing-time first (LPT),
/// deterministic for a given unit list and rank count. The plan is a plain value so it can be
/// stored in the result store and replayed by a resumed run (cluster/ executes it, decides
/// nothing).

#include <cstdint>
#include <span>
#include <vector>

namespace lineage::stages {

/// What the planner needs to know about one unit of work.
struct UnitCost {
  std::uint64_t unit_id = 0;  ///< stable id (index into the pair stage's unit list)
  std::uint64_t bytes = 0;    ///< bytes read by the unit (both sides)
};

struct ShardPlan {
  int ranks = 1;
  /// units_of_rank[r] lists the unit ids rank r processes, in processing order.
  std::vector<std::vector<std::uint64_t>> units_of_rank;
  std::vector<std::uint64_t> bytes_of_rank;

  [[nodiscard]] std::uint64_t total_bytes() const noexcept;
  [[nodiscard]] std::uint64_t max_rank_bytes() const noexcept;
  /// max / mean − 1 (0 = perfect balance); 0 for an empty plan.
  [[nodiscard]] double imbalance() const noexcept;
  /// A lower bound on any plan's max_rank_bytes: max(largest unit, ceil(total / ranks)).
  [[nodiscard]] std::uint64_t lower_bound_bytes() const noexcept;
  std::uint64_t largest_unit_bytes = 0;
};

/// LPT: sort units by bytes descending (ties by unit id), give each to the currently least loaded
/// rank (ties to the lowest rank). Within a rank, units keep that descending order so the large
/// ones start first. O(n log n + n log ranks).
/// @param[in] units  the work; unit ids must be unique
/// @param[in] ranks  number of ranks, >= 1
[[nodiscard]] ShardPlan plan_shards(std::span<const UnitCost> units, int ranks);

}  // namespace lineage::stages
