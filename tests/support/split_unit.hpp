#pragma once
// Shared by the row block tests (row_block_partial_test.cpp, journaled_work_test.cpp): a small F32
// unit that splits into 12 row blocks at 16 KiB, and a bit-for-bit comparison of two outcomes.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "stages/execute/unit_outcome.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::testing {

using stages::ComparisonUnit;
using stages::UnitOutcome;

inline ComparisonUnit unit_of(std::uint64_t id, std::uint64_t rows, std::uint64_t cols) {
  ComparisonUnit u;
  u.id = id;
  u.rows = rows;
  u.cols = cols;
  u.key_a = u.key_b = TensorKey{Component::text, TensorRole::attn_q, 1};
  u.a = stages::ElementView{0, "a", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  u.b = stages::ElementView{1, "b", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  return u;
}

inline bool same_bits(double x, double y) {
  std::uint64_t a, b;
  std::memcpy(&a, &x, 8);
  std::memcpy(&b, &y, 8);
  return a == b;
}

inline void expect_same_outcome(const UnitOutcome& x, const UnitOutcome& y) {
  const auto cx = stages::stat_columns(x.stats), cy = stages::stat_columns(y.stats);
  ASSERT_EQ(cx.size(), cy.size());
  for (std::size_t i = 0; i < cx.size(); ++i) {
    EXPECT_TRUE(same_bits(cx[i], cy[i])) << stages::unit_stat_names()[i] << ": " << cx[i] << " vs " << cy[i];
  }
  EXPECT_EQ(x.hash_a, y.hash_a);
  EXPECT_EQ(x.hash_b, y.hash_b);
  EXPECT_EQ(x.neuron_sampled, y.neuron_sampled);
  EXPECT_EQ(x.neuron_match, y.neuron_match);
}

/// 96 x 256 F32 per side (96 KiB each): 12 blocks of 8 rows at 16 KiB per block.
struct SmallSplitUnit {
  static constexpr std::uint64_t rows = 96, cols = 256, block_bytes = 16 << 10;
  ComparisonUnit unit = unit_of(4, rows, cols);
  std::vector<std::byte> a, b;
  SmallSplitUnit() {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.1f, 0.05f);
    std::vector<float> fa(rows * cols), fb(rows * cols);
    for (std::size_t i = 0; i < fa.size(); ++i) fa[i] = nd(rng), fb[i] = 0.8f * fa[i] + 0.2f * nd(rng);
    fb[300] = std::numeric_limits<float>::quiet_NaN();
    a.resize(fa.size() * 4), b.resize(fb.size() * 4);
    std::memcpy(a.data(), fa.data(), a.size());
    std::memcpy(b.data(), fb.data(), b.size());
  }
};

}  // namespace lineage::testing
