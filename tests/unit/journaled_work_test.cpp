// What compare reads from a run's journal (pipeline/journaled_work.hpp): complete split units
// merged from block records spread over rank files, the others' blocks pending with their hashes,
// a journal cut at another block size refused; and the LINEAGE_ROW_BLOCK_BYTES setting.
#include "pipeline/journaled_work.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/journal/journal.hpp"
#include "stages/execute/execute_unit.hpp"
#include "support/split_unit.hpp"
#include "support/temp_dir.hpp"

namespace lineage::pipeline {
namespace {

TEST(JournaledWork, JournaledWorkMergesCompleteUnitsAndKeepsTheRestPending) {
  using namespace lineage::stages;
  using namespace lineage::testing;
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

TEST(JournaledWork, RowBlockBytesSetting) {
  EXPECT_EQ(row_block_bytes_of(std::nullopt), stages::kRowBlockBytes);
  EXPECT_EQ(row_block_bytes_of("4096"), 4096u);
  for (const char* bad : {"0", "-5", "4k", "", "x"})
    EXPECT_THROW((void)row_block_bytes_of(std::string(bad)), ConfigError) << bad;
}

}  // namespace
}  // namespace lineage::pipeline
