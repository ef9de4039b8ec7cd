#include "stages/plan/work_plan.hpp"

namespace lineage::stages {

std::vector<const WorkItem*> WorkPlan::items_of_rank(int rank) const {
  std::vector<const WorkItem*> out;
  for (auto i : shards.units_of_rank.at(static_cast<std::size_t>(rank))) out.push_back(&items.at(i));
  return out;
}

std::vector<std::int32_t> WorkPlan::rank_of_unit(std::size_t unit_count) const {
  std::vector<std::int32_t> rank(unit_count, -1);
  std::vector<std::uint64_t> lowest_block(unit_count, ~std::uint64_t{0});
  for (std::size_t r = 0; r < shards.units_of_rank.size(); ++r) {
    for (auto i : shards.units_of_rank[r]) {
      const auto& item = items[i];
      if (item.unit_id >= unit_count) continue;
      const auto block = item.block ? item.block->index : 0;
      if (block < lowest_block[item.unit_id]) {
        lowest_block[item.unit_id] = block;
        rank[item.unit_id] = static_cast<std::int32_t>(r);
      }
    }
  }
  return rank;
}

std::size_t WorkPlan::block_items() const {
  std::size_t n = 0;
  for (const auto& i : items) n += i.block.has_value();
  return n;
}

WorkPlan plan_work(std::span<const ComparisonUnit> units, std::span<const std::uint8_t> done_units,
                   const DoneBlocks& done_blocks, int ranks, std::uint64_t block_bytes) {
  WorkPlan plan;
  // Counted first (at most: blocks an earlier run journaled are counted too) and made at that
  // size: grown by doubling, a deep MoE pair's list held up to twice its items.
  std::size_t count_items = 0;
  for (const auto& u : units) {
    if (u.id < done_units.size() && done_units[u.id]) continue;
    count_items += row_block_count(u, block_bytes);
  }
  plan.items.reserve(count_items);
  std::vector<UnitCost> costs;
  costs.reserve(count_items);
  for (const auto& u : units) {
    if (u.id < done_units.size() && done_units[u.id]) continue;
    const auto count = row_block_count(u, block_bytes);
    if (count == 1) {
      costs.push_back({plan.items.size(), u.bytes()});
      plan.items.push_back({u.id, std::nullopt, u.bytes()});
      continue;
    }
    for (std::uint64_t i = 0; i < count; ++i) {
      if (done_blocks.count({u.id, i})) continue;
      const auto b = row_block(u, i, block_bytes);
      costs.push_back({plan.items.size(), b.bytes});
      plan.items.push_back({u.id, b, b.bytes});
    }
  }
  plan.shards = plan_shards(costs, ranks);
  return plan;
}

WorkPlan whole_unit_work(std::span<const ComparisonUnit> units, ShardPlan shards) {
  WorkPlan plan;
  plan.items.reserve(units.size());
  for (const auto& u : units) plan.items.push_back({u.id, std::nullopt, u.bytes()});
  plan.shards = std::move(shards);
  return plan;
}

}  // namespace lineage::stages
