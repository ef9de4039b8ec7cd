// Distributed row blocks in compare: the work plan (stages/plan/work_plan.hpp) splits large units
// into block items that spread over ranks, the same items on any rank count; a block's partial
// (stages/execute/row_block_partial.hpp) survives its journal record bit for bit; blocks computed
// in any order and merged in block order (merge_row_blocks) give execute_unit's outcome exactly,
// hashes included; the journal keeps block records apart from unit records; and
// pipeline/journaled_work.hpp merges complete units and leaves the rest as pending blocks.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "core/errors.hpp"
#include "io/journal/journal.hpp"
#include "pipeline/journaled_work.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/row_block_partial.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/plan/work_plan.hpp"
#include "support/temp_dir.hpp"

namespace lineage::stages {
namespace {

ComparisonUnit unit_of(std::uint64_t id, std::uint64_t rows, std::uint64_t cols) {
  ComparisonUnit u;
  u.id = id;
  u.rows = rows;
  u.cols = cols;
  u.key_a = u.key_b = TensorKey{Component::text, TensorRole::attn_q, 1};
  u.a = ElementView{0, "a", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  return u;
}

bool same_bits(double x, double y) {
  std::uint64_t a, b;
  std::memcpy(&a, &x, 8);
  std::memcpy(&b, &y, 8);
  return a == b;
}

void expect_same_outcome(const UnitOutcome& x, const UnitOutcome& y) {
  const auto cx = stat_columns(x.stats), cy = stat_columns(y.stats);
  ASSERT_EQ(cx.size(), cy.size());
  for (std::size_t i = 0; i < cx.size(); ++i) {
    EXPECT_TRUE(same_bits(cx[i], cy[i])) << unit_stat_names()[i] << ": " << cx[i] << " vs " << cy[i];
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

TEST(WorkPlan, LargeUnitsBecomeBlockItemsThatSpreadOverRanks) {
  std::vector<ComparisonUnit> units{unit_of(0, 4, 64), unit_of(1, 96, 256), unit_of(2, 8, 64)};
  const std::vector<std::uint8_t> none(units.size(), 0);
  const auto one = plan_work(units, none, {}, 1, 16 << 10);
  // Two whole units and unit 1's 12 blocks; the items do not depend on the rank count.
  ASSERT_EQ(one.items.size(), 14u);
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

TEST(BlockRun, PartialsRoundTripTheirRecordBitForBit) {
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

TEST(BlockRun, BlocksFromAnywhereMergeToExecuteUnitsOutcome) {
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
  // Unsplit (one block): the same statistics to rounding, the whole XXH3.
  const auto unsplit = execute_unit(u.unit, u.a, u.b);
  EXPECT_EQ(unsplit.hash_a, XXH3_64bits(u.a.data(), u.a.size()));
  EXPECT_EQ(unsplit.stats.elements, merged.stats.elements);
  EXPECT_EQ(unsplit.stats.hidden.observed, merged.stats.hidden.observed);
  for (auto [p, q] : {std::pair{merged.stats.cosine, unsplit.stats.cosine},
                      {merged.stats.pearson, unsplit.stats.pearson},
                      {merged.stats.std_b, unsplit.stats.std_b},
                      {merged.stats.rel_l2, unsplit.stats.rel_l2}}) {
    EXPECT_NEAR(p, q, 1e-12 * std::fabs(q));
  }
}

TEST(BlockRun, MergeRefusesMissingOrMisorderedBlocks) {
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
}

}  // namespace
}  // namespace lineage::stages

namespace lineage::pipeline {
namespace {

TEST(BlockRun, JournalKeepsBlockRecordsApartFromUnitRecords) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "r0.jrn";
  const std::vector<std::byte> payload{std::byte{1}, std::byte{2}};
  {
    io::JournalWriter w(path);
    w.append(7, payload);
    w.append_block(7, 3, payload);
    w.append_block(8, 0, {});
    w.sync();
  }
  auto got = io::read_journal(path);
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_FALSE(got.records[0].block.has_value());
  ASSERT_TRUE(got.records[1].block.has_value());
  EXPECT_EQ(*got.records[1].block, 3u);
  EXPECT_EQ(got.records[1].unit_id, 7u);
  EXPECT_EQ(got.records[1].payload, payload);
  EXPECT_EQ(*got.records[2].block, 0u);
  // A torn block record at the tail is dropped, and cut away when the journal is reopened.
  const auto intact = std::filesystem::file_size(path);
  {
    io::JournalWriter w(path);
    w.append_block(9, 1, payload);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  got = io::read_journal(path);
  EXPECT_EQ(got.records.size(), 3u);
  EXPECT_EQ(got.valid_bytes, intact);
  { io::JournalWriter w(path); }
  EXPECT_EQ(std::filesystem::file_size(path), intact);
}

TEST(BlockRun, JournaledWorkMergesCompleteUnitsAndKeepsTheRestPending) {
  using namespace lineage::stages;
  const SmallSplitUnit u;
  const std::vector<ComparisonUnit> units{unit_of(0, 4, 64), unit_of(1, 2, 2), unit_of(2, 2, 2), unit_of(3, 2, 2),
                                          u.unit};
  const auto blocks = row_blocks(u.unit, SmallSplitUnit::block_bytes);
  lineage::testing::TempDir dir;
  const auto store = dir.path() / "run.h5";
  std::filesystem::create_directories(io::journal_dir_of(store));
  UnitOutcome whole_0;
  whole_0.unit_id = 0;
  whole_0.hash_a = 42;
  {
    // Blocks spread over two rank files, out of order; unit 0 whole.
    io::JournalWriter r0(io::rank_journal_path(store, 0, "s"));
    io::JournalWriter r1(io::rank_journal_path(store, 1, "s"));
    r0.append(0, whole_0.serialize());
    for (std::size_t i = blocks.size(); i-- > 0;) {
      auto p = row_block_partial(u.unit, u.a, u.b, blocks[i]);
      if (i == 0) p.sampled = unit_sampled_outcome(u.unit, u.a, u.b);
      (i % 2 ? r1 : r0).append_block(u.unit.id, i, p.serialize());
    }
  }
  auto work = read_journaled_work(store, units, SmallSplitUnit::block_bytes);
  ASSERT_EQ(work.done.size(), 2u);
  EXPECT_EQ(work.done.at(0).hash_a, 42u);
  expect_same_outcome(work.done.at(u.unit.id), execute_unit(u.unit, u.a, u.b, {}, SmallSplitUnit::block_bytes));
  EXPECT_TRUE(work.pending_blocks.empty());
  // Another block size than the journal's: refused, not merged into wrong statistics.
  EXPECT_THROW((void)read_journaled_work(store, units, SmallSplitUnit::block_bytes / 2), StoreError);

  // Only some blocks journaled: the unit is not done, its blocks are pending with their hashes.
  const auto store2 = dir.path() / "run2.h5";
  std::filesystem::create_directories(io::journal_dir_of(store2));
  {
    io::JournalWriter r0(io::rank_journal_path(store2, 0, "s"));
    for (std::size_t i : {2u, 5u})
      r0.append_block(u.unit.id, i, row_block_partial(u.unit, u.a, u.b, blocks[i]).serialize());
  }
  work = read_journaled_work(store2, units, SmallSplitUnit::block_bytes);
  EXPECT_TRUE(work.done.empty());
  ASSERT_EQ(work.pending_blocks.size(), 2u);
  EXPECT_EQ(work.pending_blocks[0].block, 2);
  EXPECT_EQ(work.pending_blocks[1].block, 5);
  EXPECT_EQ(work.pending_blocks[1].hash_a, row_block_hashes(u.unit, u.a, u.b, blocks[5]).a);
}

TEST(BlockRun, RowBlockBytesSetting) {
  EXPECT_EQ(row_block_bytes_of(std::nullopt), stages::kRowBlockBytes);
  EXPECT_EQ(row_block_bytes_of("4096"), 4096u);
  for (const char* bad : {"0", "-5", "4k", "", "x"})
    EXPECT_THROW((void)row_block_bytes_of(std::string(bad)), ConfigError) << bad;
}

}  // namespace
}  // namespace lineage::pipeline
