// Row block partials (stages/execute/row_block_partial.hpp) and their merge (execute_unit.hpp
// merge_row_blocks): a partial survives its journal record bit for bit; blocks computed in any order
// and merged in block order give execute_unit's outcome exactly, hashes included; the unsplit pass
// agrees to rounding; a missing or misordered block is refused.
#include "stages/execute/row_block_partial.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "stages/execute/execute_unit.hpp"
#include "support/split_unit.hpp"

namespace lineage::stages {
namespace {

using lineage::testing::expect_same_outcome;
using lineage::testing::same_bits;
using lineage::testing::SmallSplitUnit;

TEST(RowBlockPartial, PartialsRoundTripTheirRecordBitForBit) {
  const SmallSplitUnit u;
  const auto blocks = row_blocks(u.unit, SmallSplitUnit::block_bytes);
  ASSERT_EQ(blocks.size(), 12u);
  auto part = row_block_partial(u.unit, u.a, u.b, blocks[0]);
  part.sampled = unit_sampled_outcome(u.unit, u.a, u.b);
  const auto back = RowBlockPartial::deserialize(u.unit.id, part.serialize());
  EXPECT_EQ(back.block.unit_id, u.unit.id);
  EXPECT_EQ(back.block.index, 0u);
  EXPECT_EQ(back.block.count, 12u);
  EXPECT_EQ(back.block.rows, 8u);
  EXPECT_EQ(back.hash_a, part.hash_a);
  EXPECT_EQ(back.hash_b, part.hash_b);
  for (auto [p, q] : {std::pair{back.sums.mean_a, part.sums.mean_a},
                      {back.sums.c_ab, part.sums.c_ab},
                      {back.sums.s_dd, part.sums.s_dd},
                      {back.sums.min_b, part.sums.min_b}}) {
    EXPECT_TRUE(same_bits(p, q));
  }
  EXPECT_EQ(back.sums.n_bad, 1u);
  EXPECT_EQ(back.sums.h_d, part.sums.h_d);
  EXPECT_EQ(back.sums.hist_stride, part.sums.hist_stride);
  ASSERT_TRUE(back.sampled.has_value());
  expect_same_outcome(*back.sampled, *part.sampled);
  // A block other than 0 carries no sampled statistics; a damaged record is refused.
  const auto other =
      RowBlockPartial::deserialize(u.unit.id, row_block_partial(u.unit, u.a, u.b, blocks[3]).serialize());
  EXPECT_FALSE(other.sampled.has_value());
  auto bytes = part.serialize();
  bytes.pop_back();
  EXPECT_THROW((void)RowBlockPartial::deserialize(u.unit.id, bytes), Error);
  bytes = part.serialize();
  bytes[0] = std::byte{9};
  EXPECT_THROW((void)RowBlockPartial::deserialize(u.unit.id, bytes), StoreError);
}

TEST(RowBlockPartial, BlocksFromAnywhereMergeToExecuteUnitsOutcome) {
  const SmallSplitUnit u;
  const auto blocks = row_blocks(u.unit, SmallSplitUnit::block_bytes);
  // As three ranks would: blocks dealt round-robin, each rank's blocks last first, every partial
  // through its journal record; merged in block order.
  std::vector<RowBlockPartial> parts(blocks.size());
  for (int rank = 2; rank >= 0; --rank) {
    for (std::size_t i = blocks.size(); i-- > 0;) {
      if (static_cast<int>(i % 3) != rank) continue;
      auto p = row_block_partial(u.unit, u.a, u.b, blocks[i]);
      if (i == 0) p.sampled = unit_sampled_outcome(u.unit, u.a, u.b);
      parts[i] = RowBlockPartial::deserialize(u.unit.id, p.serialize());
    }
  }
  auto sampled = *parts[0].sampled;
  const auto merged = merge_row_blocks(u.unit, sampled, parts);
  const auto whole = execute_unit(u.unit, u.a, u.b, {}, SmallSplitUnit::block_bytes);
  expect_same_outcome(merged, whole);
  EXPECT_EQ(merged.stats.nonfinite, 1u);
  EXPECT_EQ(merged.stats.elements, SmallSplitUnit::rows * SmallSplitUnit::cols - 1);
  EXPECT_GT(merged.stats.null_rows, 0u);  // the permutation null ran on block 0's rank
  // The split unit's hash is the hash of its block hashes (what hash_unit re-checks), not the
  // XXH3 of the whole elements (what an unsplit unit stores).
  std::vector<std::uint64_t> ha;
  for (const auto& p : parts) ha.push_back(p.hash_a);
  EXPECT_EQ(merged.hash_a, XXH3_64bits(ha.data(), ha.size() * 8));
  EXPECT_NE(merged.hash_a, XXH3_64bits(u.a.data(), u.a.size()));
  const auto h = hash_unit(u.unit, u.a, u.b, {}, SmallSplitUnit::block_bytes);
  EXPECT_EQ(h.a, merged.hash_a);
  EXPECT_EQ(h.b, merged.hash_b);
  const auto hb = row_block_hashes(u.unit, u.a, u.b, blocks[7]);
  EXPECT_EQ(hb.a, parts[7].hash_a);
  EXPECT_EQ(hb.b, parts[7].hash_b);
  // Unsplit (one block): the same statistics to rounding (other shifts, and the float lanes'
  // sums within a kernel block, about 1e-6 relative), the whole XXH3.
  const auto unsplit = execute_unit(u.unit, u.a, u.b);
  EXPECT_EQ(unsplit.hash_a, XXH3_64bits(u.a.data(), u.a.size()));
  EXPECT_EQ(unsplit.stats.elements, merged.stats.elements);
  EXPECT_EQ(unsplit.stats.hidden.observed, merged.stats.hidden.observed);
  for (auto [p, q] : {std::pair{merged.stats.cosine, unsplit.stats.cosine},
                      {merged.stats.pearson, unsplit.stats.pearson},
                      {merged.stats.std_b, unsplit.stats.std_b},
                      {merged.stats.rel_l2, unsplit.stats.rel_l2}}) {
    EXPECT_NEAR(p, q, 1e-6 * std::fabs(q));
  }
}

TEST(RowBlockPartial, MergeRefusesMissingOrMisorderedBlocks) {
  const SmallSplitUnit u;
  const auto blocks = row_blocks(u.unit, SmallSplitUnit::block_bytes);
  std::vector<RowBlockPartial> parts;
  for (const auto& b : blocks) parts.push_back(row_block_partial(u.unit, u.a, u.b, b));
  auto missing = parts;
  missing.pop_back();
  EXPECT_THROW((void)merge_row_blocks(u.unit, {}, missing), InternalError);
  auto swapped = parts;
  std::swap(swapped[2], swapped[3]);
  EXPECT_THROW((void)merge_row_blocks(u.unit, {}, swapped), InternalError);
  // Read one at a time, block 0 must bring the unit's sampled statistics.
  EXPECT_THROW((void)merge_row_blocks(u.unit, parts.size(), [&](std::uint64_t i) { return parts[i]; }), InternalError);
  parts[0].sampled = unit_sampled_outcome(u.unit, u.a, u.b);
  expect_same_outcome(merge_row_blocks(u.unit, parts.size(), [&](std::uint64_t i) { return parts[i]; }),
                      execute_unit(u.unit, u.a, u.b, {}, SmallSplitUnit::block_bytes));
}

}  // namespace
}  // namespace lineage::stages
