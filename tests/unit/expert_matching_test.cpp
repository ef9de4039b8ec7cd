#include "stages/align/expert_matching.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>

#include "core/errors.hpp"
#include "stages/align/assignment.hpp"

namespace lineage::stages {
namespace {

TEST(Assignment, FindsTheLargestTotalNotTheGreedyOne) {
  // Greedy takes (0,0)=10 and is left with (1,1)=1: 11. The best is (0,1)+(1,0) = 9+9 = 18.
  const std::vector<double> s{10, 9, 9, 1};
  EXPECT_EQ(max_assignment(s, 2, 2), (std::vector<std::size_t>{1, 0}));
  // Rectangular: 2 rows over 3 columns.
  const std::vector<double> r{0, 5, 1, 4, 0, 3};
  EXPECT_EQ(max_assignment(r, 2, 3), (std::vector<std::size_t>{1, 0}));
}

std::vector<float> random_rows(std::uint64_t rows, std::uint64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> m(rows * cols);
  for (auto& x : m) x = nd(rng);
  return m;
}

TEST(ExpertMatching, RecoversAPermutationAndKeptExpertsAndNotAnUnrelatedRouter) {
  const std::uint64_t experts = 16, cols = 96;
  const auto parent = random_rows(experts, cols, 1);
  std::vector<int> perm(experts);
  for (std::uint64_t i = 0; i < experts; ++i) perm[i] = static_cast<int>(i);
  std::mt19937 rng(2);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::normal_distribution<float> noise(0, 0.1f);
  std::vector<float> suspect(experts * cols);
  for (std::uint64_t e = 0; e < experts; ++e) {
    for (std::uint64_t c = 0; c < cols; ++c)
      suspect[e * cols + c] = parent[static_cast<std::uint64_t>(perm[e]) * cols + c] + noise(rng);
  }
  auto m = match_experts(suspect, experts, parent, experts, cols, 7);
  EXPECT_EQ(m.match, perm);
  EXPECT_LT(m.p, 1e-6);
  EXPECT_GT(m.matched_mean, 0.9);
  EXPECT_EQ(m.unmatched_other, 0);
  // Pruned: the suspect keeps 10 of the 16 experts.
  const std::vector<int> kept{0, 2, 3, 5, 7, 8, 9, 11, 13, 15};
  std::vector<float> pruned;
  for (int k : kept) {
    for (std::uint64_t c = 0; c < cols; ++c)
      pruned.push_back(parent[static_cast<std::uint64_t>(k) * cols + c] + noise(rng));
  }
  m = match_experts(pruned, kept.size(), parent, experts, cols, 7);
  EXPECT_EQ(m.match, kept);
  EXPECT_EQ(m.unmatched_other, 6);
  // Unrelated: maximising still finds some pairing, but no better than the null's.
  m = match_experts(random_rows(experts, cols, 3), experts, parent, experts, cols, 7);
  EXPECT_GT(m.p, 1e-3);
  EXPECT_GT(m.matched_mean, 0.0);  // the inflation METHODS §5.2.4 warns about
}

TEST(ExpertMatching, RemembersResultsOnlyForTheSameArgumentsAndBatchesAnyCount) {
  const std::uint64_t experts = 12, cols = 64;
  const auto a = random_rows(experts, cols, 8);
  auto b = a;
  std::swap_ranges(b.begin(), b.begin() + cols, b.begin() + cols);  // rows 0 and 1 swapped
  const auto first = match_experts(a, experts, a, experts, cols, 1, 23);
  const auto again = match_experts(a, experts, a, experts, cols, 1, 23);
  EXPECT_EQ(first.match, again.match);
  EXPECT_EQ(first.null_mean, again.null_mean);
  EXPECT_EQ(first.permutations, 23);  // not a multiple of the batch of relabellings
  EXPECT_EQ(first.in_place, int(experts));
  // Different rows, seed or relabelling count: a result of their own, not the one remembered.
  const auto swapped = match_experts(b, experts, a, experts, cols, 1, 23);
  EXPECT_EQ(swapped.match[0], 1);
  EXPECT_EQ(swapped.match[1], 0);
  EXPECT_EQ(swapped.in_place, int(experts) - 2);
  EXPECT_NE(match_experts(a, experts, a, experts, cols, 2, 23).null_mean, first.null_mean);
  EXPECT_EQ(match_experts(a, experts, a, experts, cols, 1, 7).permutations, 7);
}

double total(const std::vector<double>& s, std::size_t cols, const std::vector<std::size_t>& match) {
  double t = 0;
  for (std::size_t i = 0; i < match.size(); ++i) t += s[i * cols + match[i]];
  return t;
}

bool is_injective(const std::vector<std::size_t>& match, std::size_t cols) {
  std::vector<char> seen(cols, 0);
  for (const auto j : match) {
    if (j >= cols || seen[j] != 0) return false;
    seen[j] = 1;
  }
  return true;
}

TEST(Assignment, SquareProblemsReachTheBruteForceOptimumWithAndWithoutTies) {
  // Jonker-Volgenant solves square problems: against every permutation for n <= 7, with scores
  // drawn from {0, 1, 2} (many equally good matchings) and from a continuum.
  std::mt19937 rng(11);
  for (std::size_t n = 1; n <= 7; ++n) {
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<double> s(n * n);
      for (auto& x : s) x = trial % 2 == 0 ? double(rng() % 3) : std::normal_distribution<double>(0, 1)(rng);
      std::vector<std::size_t> perm(n);
      for (std::size_t i = 0; i < n; ++i) perm[i] = i;
      double best = -std::numeric_limits<double>::infinity();
      do {
        best = std::max(best, total(s, n, perm));
      } while (std::next_permutation(perm.begin(), perm.end()));
      const auto m = max_assignment(s, n, n);
      ASSERT_TRUE(is_injective(m, n)) << "n " << n << " trial " << trial;
      EXPECT_NEAR(total(s, n, m), best, 1e-9) << "n " << n << " trial " << trial;
    }
  }
}

TEST(Assignment, SquareAndRectangularSolversAgreeAtTheMatchingsSize) {
  // 128 x 128 as the expert matchings' nulls solve it; the same problem with one more column
  // that no row wants goes through the Hungarian path: both totals must be the optimum. Scores
  // continuous, with few distinct values (ties), and with repeated and constant rows (experts
  // that are copies, or zero after centring).
  std::mt19937 rng(12);
  const std::size_t n = 128;
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<double> s(n * n);
    for (auto& x : s) x = kind == 1 ? double(rng() % 4) : std::normal_distribution<double>(0, 1)(rng);
    if (kind == 2) {
      for (std::size_t i = 0; i < 20; ++i) std::copy_n(s.begin(), n, s.begin() + std::ptrdiff_t(i * n));
      for (std::size_t i = 100; i < 110; ++i) std::fill_n(s.begin() + std::ptrdiff_t(i * n), n, 0.0);
    }
    std::vector<double> wide(n * (n + 1), -1e6);
    for (std::size_t i = 0; i < n; ++i)
      std::copy_n(s.begin() + std::ptrdiff_t(i * n), n, wide.begin() + std::ptrdiff_t(i * (n + 1)));
    const auto square = max_assignment(s, n, n);
    const auto rectangular = max_assignment(wide, n, n + 1);
    ASSERT_TRUE(is_injective(square, n)) << kind;
    ASSERT_TRUE(is_injective(rectangular, n)) << kind;  // never the unwanted column n
    EXPECT_NEAR(total(s, n, square), total(wide, n + 1, rectangular), 1e-9) << kind;
  }
}

TEST(Assignment, RefusesNonFiniteScoresInsteadOfLoopingForever) {
  const std::vector<double> s{1, std::numeric_limits<double>::quiet_NaN(), 0, 1};
  EXPECT_THROW((void)max_assignment(s, 2, 2), InternalError);
}

TEST(ExpertMatching, RoutersWithNaNRowsStillMatch) {
  // A suspect router with every other value NaN (as in a doctored copy): the matching ends, and
  // the NaN count as zero, so the remaining half still finds the permutation.
  const std::uint64_t experts = 8, cols = 256;
  const auto parent = random_rows(experts, cols, 4);
  std::vector<int> perm{3, 1, 0, 2, 7, 6, 5, 4};
  std::vector<float> suspect(experts * cols);
  for (std::uint64_t e = 0; e < experts; ++e) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      suspect[e * cols + c] =
          c % 2 ? std::numeric_limits<float>::quiet_NaN() : parent[static_cast<std::uint64_t>(perm[e]) * cols + c];
    }
  }
  const auto m = match_experts(suspect, experts, parent, experts, cols, 7);
  EXPECT_EQ(m.match, perm);
}

}  // namespace
}  // namespace lineage::stages
