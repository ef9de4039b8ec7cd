// What compare reads from a run's journal (pipeline/journaled_work.hpp): complete split units
// merged from block records spread over rank files, the others' blocks pending with their hashes,
// a journal cut at another block size refused; the store's results gathered from the journals in
// unit order; and the LINEAGE_ROW_BLOCK_BYTES setting.
#include "pipeline/journaled_work.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/journal/journal.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_stats.hpp"
#include "support/journaled_outcomes.hpp"
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
  auto work = journaled_outcomes(store, units, SmallSplitUnit::block_bytes);
  ASSERT_EQ(work.done.size(), 2u);
  EXPECT_EQ(work.done.at(0).hash_a, 42u);
  expect_same_outcome(work.done.at(u.unit.id), execute_unit(u.unit, u.a, u.b, {}, SmallSplitUnit::block_bytes));
  EXPECT_TRUE(work.pending_blocks.empty());
  // Another block size than the journal's: refused, not merged into wrong statistics.
  EXPECT_THROW((void)journaled_outcomes(store, units, SmallSplitUnit::block_bytes / 2), StoreError);

  // Only some blocks journaled: the unit is not done, its blocks are pending with their hashes.
  const auto store2 = dir.path() / "run2.h5";
  std::filesystem::create_directories(io::journal_dir_of(store2));
  {
    io::JournalWriter r0(io::rank_journal_path(store2, 0, "s"));
    for (std::size_t i : {2u, 5u})
      r0.append_block(u.unit.id, i, row_block_partial(u.unit, u.a, u.b, blocks[i]).serialize());
  }
  work = journaled_outcomes(store2, units, SmallSplitUnit::block_bytes);
  EXPECT_TRUE(work.done.empty());
  ASSERT_EQ(work.pending_blocks.size(), 2u);
  EXPECT_EQ(work.pending_blocks[0].block, 2);
  EXPECT_EQ(work.pending_blocks[1].block, 5);
  EXPECT_EQ(work.pending_blocks[1].hash_a, row_block_hashes(u.unit, u.a, u.b, blocks[5]).a);
}

stages::UnitOutcome numbered_outcome(std::uint64_t id) {
  stages::UnitOutcome o;
  o.unit_id = id;
  o.stats.cosine = 0.5 + static_cast<double>(id) / 1000;
  o.stats.elements = 10 + id;
  o.stats.hidden.observed = -static_cast<double>(id);
  o.stats.rotation_test = 3 * id;
  o.hash_a = 100 + id;
  o.hash_b = 200 + id;
  if (id % 2 == 0) o.values_a = o.values_b = std::vector<float>(3, static_cast<float>(id));
  if (id % 7 == 3) o.sketch_a = o.sketch_b = {1.0f, static_cast<float>(id)};
  if (id % 5 == 1) o.joint_null = {static_cast<float>(id) / 4};
  if (id % 11 == 5) o.neuron_sampled = o.neuron_match = {7, id};
  return o;
}

// The gather fills the store's results from the journals as it reads them, in ascending unit
// order whatever order the ranks journaled them in (the stats rows moved with their ids), each unit
// once (its first record wins, here over a second with other hashes), a unit without a record left
// out, and the results the store held before gone; outcomes of units past the run's are returned
// (a resumed run's matched units) and join the store once planned.
TEST(JournaledWork, GatherPutsEveryJournaledUnitInTheStoreInUnitOrder) {
  constexpr std::uint64_t kUnits = 300;
  std::vector<stages::ComparisonUnit> units;
  for (std::uint64_t id = 0; id < kUnits; ++id) units.push_back(lineage::testing::unit_of(id, 2, 2));
  std::vector<std::uint64_t> order;
  for (std::uint64_t id = 0; id < kUnits; ++id) {
    if (id != 17) order.push_back(id);  // unit 17 never finished
  }
  order.push_back(kUnits + 4);  // a matched unit of an earlier session, not planned yet
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "run.h5";
  std::filesystem::create_directories(io::journal_dir_of(path));
  {
    io::JournalWriter r0(io::rank_journal_path(path, 0, "s"));
    io::JournalWriter r1(io::rank_journal_path(path, 1, "s"));
    io::JournalWriter r2(io::rank_journal_path(path, 2, "s"));
    io::JournalWriter* files[] = {&r0, &r1, &r2};
    for (std::size_t i = 0; i < order.size(); ++i)
      files[i % 3]->append(order[i], numbered_outcome(order[i]).serialize());
    // Records again for units already journaled (a rank killed after its record, the unit rerun):
    // later in the files, with other hashes; the first ones win.
    for (const std::uint64_t id : {std::uint64_t{3}, std::uint64_t{250}, kUnits + 4}) {
      auto again = numbered_outcome(id);
      again.hash_a = 999;
      r2.append(id, again.serialize());
    }
  }
  io::StoreContents store;
  store.stat_names = stages::unit_stat_names();
  store.done_ids = {5};
  stages::append_stat_columns(store.stats, numbered_outcome(5).stats);
  store.hash_a = store.hash_b = {1};
  store.values.put(5, std::vector<float>{1.0f}, std::vector<float>{2.0f});
  auto unplanned = gather_results(store, path, units, 1 << 20);
  ASSERT_EQ(store.done_ids.size(), kUnits - 1);
  const auto columns = stages::unit_stat_names().size();
  ASSERT_EQ(store.stats.size(), store.done_ids.size() * columns);
  for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
    const auto id = store.done_ids[row];
    ASSERT_EQ(id, row < 17 ? row : row + 1);
    EXPECT_EQ(store.hash_a[row], 100 + id);
    EXPECT_EQ(store.hash_b[row], 200 + id);
    const auto want = stages::stat_columns(numbered_outcome(id).stats);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), store.stats.begin() + static_cast<std::ptrdiff_t>(row * columns)))
        << "the stats row of unit " << id;
    EXPECT_EQ(store.values.contains(id), id % 2 == 0);
    EXPECT_EQ(store.sketches.contains(id), id % 7 == 3);
    EXPECT_EQ(store.joint_null.contains(id), id % 5 == 1);
    EXPECT_EQ(store.neuron_matches.contains(id), id % 11 == 5);
  }
  EXPECT_TRUE(
      std::ranges::equal(store.values.find(4)->a, std::vector<float>(3, 4.0f)));  // unit 5's old values are gone
  EXPECT_FALSE(store.values.contains(5));
  EXPECT_TRUE(std::ranges::equal(store.sketches.find(10)->b(), std::vector<float>{1.0f, 10.0f}));
  EXPECT_TRUE(std::ranges::equal(store.neuron_matches.find(16)->b(), std::vector<std::uint64_t>{7, 16}));
  ASSERT_EQ(unplanned.size(), 1u);
  EXPECT_EQ(unplanned.at(kUnits + 4).hash_a, 100 + kUnits + 4);
  EXPECT_TRUE(has_result(store, unplanned, 250));
  EXPECT_FALSE(has_result(store, unplanned, 17));
  // Once the matched unit is planned, it follows the pass's units.
  take_results(store, unplanned, kUnits + 5);
  EXPECT_EQ(store.done_ids.back(), kUnits + 4);
  EXPECT_TRUE(unplanned.empty());
}

// The store's results are taken from the outcomes, not copied: each taken outcome leaves the map
// (rank 0 never holds a unit's results twice), units at or past the count stay, and a later take
// appends them in unit order; taking results that would come before the store's is refused.
TEST(JournaledWork, ResultsAreTakenFromTheOutcomesInUnitOrder) {
  using stages::UnitOutcome;
  const auto outcome = [](std::uint64_t id) {
    UnitOutcome o;
    o.unit_id = id;
    o.stats.cosine = 0.5 + static_cast<double>(id) / 100;
    o.hash_a = 100 + id;
    o.hash_b = 200 + id;
    if (id % 2 == 0) o.values_a = o.values_b = std::vector<float>(3, static_cast<float>(id));
    if (id == 3) o.sketch_a = o.sketch_b = {1.0f, 2.0f};
    if (id == 1) o.joint_null = {0.25f};
    if (id == 5) o.neuron_sampled = o.neuron_match = {7, 8};
    return o;
  };
  std::map<std::uint64_t, UnitOutcome> done;
  for (const std::uint64_t id : {5, 0, 3, 1, 7}) done.emplace(id, outcome(id));
  io::StoreContents store;
  store.stat_names = stages::unit_stat_names();
  const auto kept_a = done.at(0).values_a, kept_b = done.at(0).values_b;
  take_results(store, done, 4);
  EXPECT_EQ(store.done_ids, (std::vector<std::uint64_t>{0, 1, 3}));
  EXPECT_EQ(done.size(), 2u);  // units 5 and 7: not planned yet
  EXPECT_TRUE(has_result(store, done, 3));
  EXPECT_TRUE(has_result(store, done, 5));
  EXPECT_FALSE(has_result(store, done, 2));
  ASSERT_TRUE(store.values.contains(0));
  EXPECT_TRUE(std::ranges::equal(store.values.find(0)->a, kept_a));
  EXPECT_TRUE(std::ranges::equal(store.values.find(0)->b, kept_b));
  EXPECT_TRUE(std::ranges::equal(store.joint_null.find(1)->values, std::vector<float>{0.25f}));
  EXPECT_TRUE(std::ranges::equal(store.sketches.find(3)->b(), std::vector<float>{1.0f, 2.0f}));
  take_results(store, done, 8);
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(store.done_ids, (std::vector<std::uint64_t>{0, 1, 3, 5, 7}));
  EXPECT_EQ(store.hash_a, (std::vector<std::uint64_t>{100, 101, 103, 105, 107}));
  EXPECT_EQ(store.hash_b, (std::vector<std::uint64_t>{200, 201, 203, 205, 207}));
  EXPECT_TRUE(std::ranges::equal(store.neuron_matches.find(5)->b(), std::vector<std::uint64_t>{7, 8}));
  const auto columns = stages::unit_stat_names().size();
  ASSERT_EQ(store.stats.size(), 5 * columns);
  std::vector<double> row;
  stages::append_stat_columns(row, outcome(5).stats);
  EXPECT_TRUE(std::equal(row.begin(), row.end(), store.stats.begin() + static_cast<std::ptrdiff_t>(3 * columns)));
  // Results of a unit before the store's last ones would break the order: refused, nothing taken.
  done.emplace(2, outcome(2));
  EXPECT_THROW(take_results(store, done, 8), InternalError);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_EQ(store.done_ids.size(), 5u);
  clear_results(store);
  EXPECT_TRUE(store.done_ids.empty() && store.stats.empty() && store.hash_a.empty() && store.values.empty() &&
              store.sketches.empty() && store.joint_null.empty() && store.neuron_matches.empty());
  take_results(store, done, 8);
  EXPECT_EQ(store.done_ids, std::vector<std::uint64_t>{2});
}

TEST(JournaledWork, RowBlockBytesSetting) {
  EXPECT_EQ(row_block_bytes_of(std::nullopt), stages::kRowBlockBytes);
  EXPECT_EQ(row_block_bytes_of("4096"), 4096u);
  for (const char* bad : {"0", "-5", "4k", "", "x"})
    EXPECT_THROW((void)row_block_bytes_of(std::string(bad)), ConfigError) << bad;
}

}  // namespace
}  // namespace lineage::pipeline
