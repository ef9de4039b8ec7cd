// The work plan (stages/plan/work_plan.hpp): large units become row block items that spread over
// the ranks, the same items on any rank count; done units and journaled blocks are left out.
#include "stages/plan/work_plan.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "support/split_unit.hpp"

namespace lineage::stages {
namespace {

using lineage::testing::unit_of;

TEST(WorkPlan, LargeUnitsBecomeBlockItemsThatSpreadOverRanks) {
  std::vector<ComparisonUnit> units{unit_of(0, 4, 64), unit_of(1, 96, 256), unit_of(2, 8, 64)};
  const std::vector<std::uint8_t> none(units.size(), 0);
  const auto one = plan_work(units, none, {}, 1, 16 << 10);
  // Two whole units and unit 1's 12 blocks; the items do not depend on the rank count.
  ASSERT_EQ(one.items.size(), 14u);
  EXPECT_LT(one.items.capacity(), 16u);  // made at its size (14), not grown by doubling (16)
  EXPECT_EQ(one.block_items(), 12u);
  for (int ranks : {2, 3}) {
    const auto p = plan_work(units, none, {}, ranks, 16 << 10);
    ASSERT_EQ(p.items.size(), one.items.size());
    for (std::size_t i = 0; i < p.items.size(); ++i) {
      EXPECT_EQ(p.items[i].unit_id, one.items[i].unit_id);
      EXPECT_EQ(p.items[i].block.has_value(), one.items[i].block.has_value());
      if (p.items[i].block) {
        EXPECT_EQ(p.items[i].block->first_row, one.items[i].block->first_row);
      }
    }
    // Unit 1's blocks land on every rank: the huge unit no longer caps the balance.
    std::set<int> ranks_of_unit1;
    for (int r = 0; r < ranks; ++r) {
      for (const auto* item : p.items_of_rank(r)) {
        if (item->unit_id == 1) ranks_of_unit1.insert(r);
      }
    }
    EXPECT_EQ(static_cast<int>(ranks_of_unit1.size()), ranks);
    EXPECT_LT(p.shards.imbalance(), 0.2);
    // Whole units are recorded at their rank, split units at their block 0's.
    const auto rank = p.rank_of_unit(units.size());
    for (int r = 0; r < ranks; ++r) {
      for (const auto* item : p.items_of_rank(r)) {
        if (!item->block || item->block->index == 0) {
          EXPECT_EQ(rank[item->unit_id], r);
        }
      }
    }
  }
  // At the default size every unit here is one block: the plan is the plain unit plan.
  EXPECT_EQ(plan_work(units, none, {}, 2, kRowBlockBytes).block_items(), 0u);
}

TEST(WorkPlan, SkipsDoneUnitsAndJournaledBlocks) {
  std::vector<ComparisonUnit> units{unit_of(0, 4, 64), unit_of(1, 96, 256)};
  const std::vector<std::uint8_t> done{1, 0};
  const DoneBlocks blocks{{1, 0}, {1, 5}, {1, 11}};
  const auto p = plan_work(units, done, blocks, 2, 16 << 10);
  ASSERT_EQ(p.items.size(), 9u);
  for (const auto& item : p.items) {
    ASSERT_TRUE(item.block.has_value());
    EXPECT_EQ(item.unit_id, 1u);
    EXPECT_FALSE(blocks.count({1, item.block->index}));
  }
  // Block 0 journaled: the unit is recorded at the rank of its first planned block.
  const auto rank = p.rank_of_unit(units.size());
  EXPECT_EQ(rank[0], -1);
  EXPECT_GE(rank[1], 0);
}

}  // namespace
}  // namespace lineage::stages
