#include "stages/plan/shard_plan.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <queue>
#include <utility>

#include "core/errors.hpp"

namespace lineage::stages {

std::uint64_t ShardPlan::total_bytes() const noexcept {
  std::uint64_t t = 0;
  for (auto b : bytes_of_rank) t += b;
  return t;
}

std::uint64_t ShardPlan::max_rank_bytes() const noexcept {
  return bytes_of_rank.empty() ? 0 : *std::max_element(bytes_of_rank.begin(), bytes_of_rank.end());
}

double ShardPlan::imbalance() const noexcept {
  const auto total = total_bytes();
  if (total == 0 || ranks <= 0) return 0.0;
  const double mean = static_cast<double>(total) / ranks;
  return static_cast<double>(max_rank_bytes()) / mean - 1.0;
}

std::uint64_t ShardPlan::lower_bound_bytes() const noexcept {
  const auto total = total_bytes();
  const auto r = static_cast<std::uint64_t>(ranks > 0 ? ranks : 1);
  return std::max(largest_unit_bytes, (total + r - 1) / r);
}

namespace {

/// The smallest id given twice, if any. Ids are positions in a unit list, so a bitmap over them
/// finds it in one pass (sorting a copy of 400k ids was about 5% of `lineage plan`); sparse ids
/// are sorted.
std::optional<std::uint64_t> repeated_id(std::span<const UnitCost> units) {
  std::uint64_t largest = 0;
  for (const auto& u : units) largest = std::max(largest, u.unit_id);
  std::optional<std::uint64_t> smallest;
  if (largest < 4 * units.size() + 1024) {
    std::vector<bool> seen(largest + 1, false);
    for (const auto& u : units) {
      if (seen[u.unit_id] && (!smallest || u.unit_id < *smallest)) smallest = u.unit_id;
      seen[u.unit_id] = true;
    }
    return smallest;
  }
  std::vector<std::uint64_t> ids;
  ids.reserve(units.size());
  for (const auto& u : units) ids.push_back(u.unit_id);
  std::sort(ids.begin(), ids.end());
  if (const auto dup = std::adjacent_find(ids.begin(), ids.end()); dup != ids.end()) smallest = *dup;
  return smallest;
}

}  // namespace

ShardPlan plan_shards(std::span<const UnitCost> units, int ranks) {
  if (ranks < 1) throw InternalError("plan_shards: ranks must be >= 1");
  std::vector<UnitCost> order(units.begin(), units.end());
  std::sort(order.begin(), order.end(), [](const UnitCost& a, const UnitCost& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.unit_id < b.unit_id;
  });
  if (const auto dup = repeated_id(units))
    throw InternalError("plan_shards: duplicate unit id " + std::to_string(*dup));
  ShardPlan plan;
  plan.ranks = ranks;
  plan.units_of_rank.resize(static_cast<std::size_t>(ranks));
  plan.bytes_of_rank.assign(static_cast<std::size_t>(ranks), 0);
  // Min-heap on (load, rank): the least loaded rank, lowest index on ties -> deterministic.
  using Slot = std::pair<std::uint64_t, int>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> heap;
  for (int r = 0; r < ranks; ++r) heap.emplace(0, r);
  for (const auto& u : order) {
    auto [load, r] = heap.top();
    heap.pop();
    const auto ri = static_cast<std::size_t>(r);
    plan.units_of_rank[ri].push_back(u.unit_id);
    plan.bytes_of_rank[ri] = load + u.bytes;
    plan.largest_unit_bytes = std::max(plan.largest_unit_bytes, u.bytes);
    heap.emplace(load + u.bytes, r);
  }
  return plan;
}

}  // namespace lineage::stages
