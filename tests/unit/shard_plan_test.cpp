#include "stages/plan/shard_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

std::vector<UnitCost> random_units(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> size(14.0, 1.5);
  std::vector<UnitCost> units;
  for (std::size_t i = 0; i < n; ++i) {
    units.push_back({i, static_cast<std::uint64_t>(size(rng)) + 1});
  }
  return units;
}

TEST(ShardPlan, EveryUnitAssignedExactlyOnce) {
  const auto units = random_units(1000, 1);
  for (int ranks : {1, 2, 3, 7, 64}) {
    const auto plan = plan_shards(units, ranks);
    std::set<std::uint64_t> seen;
    std::size_t count = 0;
    for (const auto& list : plan.units_of_rank) {
      for (auto id : list) {
        seen.insert(id);
        ++count;
      }
    }
    EXPECT_EQ(count, units.size()) << ranks;
    EXPECT_EQ(seen.size(), units.size()) << ranks;
    std::uint64_t total = 0;
    for (const auto& u : units) total += u.bytes;
    EXPECT_EQ(plan.total_bytes(), total);
  }
}

TEST(ShardPlan, DeterministicAndIndependentOfInputOrder) {
  auto units = random_units(500, 2);
  const auto a = plan_shards(units, 3);
  std::reverse(units.begin(), units.end());
  const auto b = plan_shards(units, 3);
  EXPECT_EQ(a.units_of_rank, b.units_of_rank);
  EXPECT_EQ(a.bytes_of_rank, b.bytes_of_rank);
}

TEST(ShardPlan, LptIsWithinItsGuaranteeOfTheLowerBound) {
  // Graham's bound for LPT: makespan <= (4/3 - 1/(3m)) * OPT, and OPT >= lower bound.
  for (int ranks : {2, 3, 8, 32}) {
    const auto plan = plan_shards(random_units(2000, 3), ranks);
    const double bound = (4.0 / 3.0 - 1.0 / (3.0 * ranks)) * plan.lower_bound_bytes();
    EXPECT_LE(static_cast<double>(plan.max_rank_bytes()), bound) << ranks;
  }
}

TEST(ShardPlan, ManyEqualUnitsBalancePerfectly) {
  std::vector<UnitCost> units;
  for (std::uint64_t i = 0; i < 96; ++i) units.push_back({i, 1000});
  const auto plan = plan_shards(units, 3);
  EXPECT_DOUBLE_EQ(plan.imbalance(), 0.0);
  EXPECT_EQ(plan.units_of_rank[0].size(), 32u);
}

TEST(ShardPlan, OneHugeUnitDominates) {
  std::vector<UnitCost> units{{0, 1'000'000}, {1, 10}, {2, 10}};
  const auto plan = plan_shards(units, 2);
  EXPECT_EQ(plan.max_rank_bytes(), 1'000'000u);
  EXPECT_EQ(plan.lower_bound_bytes(), 1'000'000u);
  EXPECT_EQ(plan.units_of_rank[1].size(), 2u);  // the small ones go to the other rank
}

TEST(ShardPlan, MoreRanksThanUnitsLeavesIdleRanks) {
  std::vector<UnitCost> units{{0, 5}, {1, 7}};
  const auto plan = plan_shards(units, 4);
  EXPECT_EQ(plan.units_of_rank[0], std::vector<std::uint64_t>{1});
  EXPECT_EQ(plan.units_of_rank[1], std::vector<std::uint64_t>{0});
  EXPECT_TRUE(plan.units_of_rank[2].empty());
  EXPECT_THROW((void)plan_shards(units, 0), std::exception);
  std::vector<UnitCost> dup{{3, 5}, {3, 9}};
  EXPECT_THROW((void)plan_shards(dup, 2), std::exception);
}

TEST(ShardPlan, AnIdGivenTwiceIsRefusedNamingTheSmallest) {
  const auto refusal = [](std::vector<UnitCost> units) -> std::string {
    try {
      (void)plan_shards(units, 4);
    } catch (const InternalError& e) {
      return e.what();
    }
    return "accepted";
  };
  // Dense ids (positions in a unit list) and sparse ones (read another way) alike.
  EXPECT_EQ(refusal({{0, 5}, {7, 1}, {3, 2}, {7, 9}, {3, 4}, {1, 1}}), "plan_shards: duplicate unit id 3");
  EXPECT_EQ(refusal({{1ull << 40, 5}, {9ull << 50, 1}, {1ull << 40, 2}, {9ull << 50, 9}}),
            "plan_shards: duplicate unit id 1099511627776");
  // The smallest, not the first repeated in the input's order.
  EXPECT_EQ(refusal({{9ull << 50, 5}, {1ull << 40, 1}, {9ull << 50, 2}, {1ull << 40, 9}}),
            "plan_shards: duplicate unit id 1099511627776");
  EXPECT_EQ(refusal({{7, 5}, {3, 1}, {7, 2}, {3, 9}}), "plan_shards: duplicate unit id 3");
  EXPECT_EQ(refusal({{0, 5}, {7, 1}, {3, 2}}), "accepted");
  EXPECT_EQ(refusal({{1ull << 40, 5}, {9ull << 50, 1}}), "accepted");
}

}  // namespace
}  // namespace lineage::stages
