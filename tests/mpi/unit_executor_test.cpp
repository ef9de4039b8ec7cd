// The unit executor (cluster/unit_executor.hpp) on 1, 2 and 3 ranks: every planned unit is
// computed once, by the rank the shard plan names, into that rank's journal; a failing unit ends
// the compute on every rank with one agreed error and leaves the finished units journaled; a stop
// request ends it after a clean checkpoint. Units split into row blocks spread over the ranks, and
// their journaled blocks merge to execute_unit's outcome bit for bit.
#include "cluster/unit_executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>

#include "io/family_file.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/execute/unit_stats.hpp"
#include "support/files.hpp"
#include "support/journaled_outcomes.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"
#include "tools/synth/registry_expand.hpp"
#include "tools/synth/scenarios.hpp"
#include "tools/synth/write_model.hpp"
#include "tools/synth/write_suite.hpp"

namespace lineage::cluster {
namespace {

/// The run plan of the synthetic finetune against its base (built by every rank on its own, as
/// compare does) and a shard plan of its first `count` units over the world's ranks.
struct Fixture {
  stages::RunPlan run;
  stages::ShardPlan shards;
};

Fixture fixture(const Communicator& world, std::size_t count) {
  static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  const auto& suite = testing::synth_suite();
  RunConfig cfg;
  cfg.suspect = (suite / "finetune").string();
  cfg.parents = {(suite / "base").string()};
  cfg.baselines = false;
  Fixture f{stages::build_run_plan(cfg, registry), {}};
  std::vector<stages::UnitCost> costs;
  for (std::size_t i = 0; i < count && i < f.run.units().size(); ++i) {
    costs.push_back({f.run.units()[i].id, f.run.units()[i].bytes()});
  }
  f.shards = stages::plan_shards(costs, world.size());
  return f;
}

UnitExecutorOptions quiet_options() {
  UnitExecutorOptions o;
  o.progress.quiet = true;
  o.null.permutations = 4;
  return o;
}

/// A store path in rank 0's temporary folder `dir` (kept by rank 0), the same on every rank, with
/// its journal folder made: one journal folder for every rank.
std::filesystem::path shared_store(const Communicator& world, std::optional<testing::TempDir>& dir) {
  std::string where;
  if (world.is_root()) dir.emplace(), where = dir->path().string();
  const auto b = world.broadcast({reinterpret_cast<const std::byte*>(where.data()), where.size()}, 0);
  const std::filesystem::path store = std::string(reinterpret_cast<const char*>(b.data()), b.size()) + "/run.h5";
  if (world.is_root()) std::filesystem::create_directories(io::journal_dir_of(store));
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));  // made before any rank writes
  return store;
}

std::vector<std::uint64_t> journaled_ids(const std::filesystem::path& file) {
  std::vector<std::uint64_t> ids;
  for (const auto& r : io::read_journal(file).records) ids.push_back(r.unit_id);
  return ids;
}

TEST(MpiUnitExecutor, EveryUnitOnceByItsPlannedRankIntoThatRanksJournal) {
  auto world = Communicator::world();
  const auto f = fixture(world, 12);
  testing::TempDir dir;
  const auto file = dir.path() / "r.jrn";
  std::ostringstream progress;
  const auto done = execute_units(world, f.run, stages::whole_unit_work(f.run.units(), f.shards),
                                  std::make_unique<io::JournalWriter>(file), quiet_options(), progress);
  EXPECT_FALSE(done.failure.has_value());
  EXPECT_FALSE(done.stopped);
  EXPECT_EQ(done.computed, 12u);
  const auto& mine = f.shards.units_of_rank[static_cast<std::size_t>(world.rank())];
  EXPECT_EQ(journaled_ids(file), mine);
  for (const auto& r : io::read_journal(file).records) {
    EXPECT_NO_THROW((void)stages::UnitOutcome::deserialize(r.unit_id, r.payload)) << r.unit_id;
  }
}

TEST(MpiUnitExecutor, AFailingUnitEndsEveryRankWithOneErrorAndKeepsWhatFinished) {
  auto world = Communicator::world();
  const auto f = fixture(world, 12);
  const int failing = world.size() - 1;
  const auto& theirs = f.shards.units_of_rank[static_cast<std::size_t>(failing)];
  ASSERT_GE(theirs.size(), 2u);
  auto options = quiet_options();
  options.fail_at_unit = theirs[1];  // the failing rank finishes one unit first
  testing::TempDir dir;
  const auto file = dir.path() / "r.jrn";
  std::ostringstream progress;
  const auto done = execute_units(world, f.run, stages::whole_unit_work(f.run.units(), f.shards),
                                  std::make_unique<io::JournalWriter>(file), options, progress);
  ASSERT_TRUE(done.failure.has_value());
  EXPECT_EQ(done.failure->exit_code(), ExitCode::input);
  EXPECT_NE(std::string(done.failure->what()).find("injected failure at unit " + std::to_string(theirs[1])),
            std::string::npos)
      << done.failure->what();
  if (world.rank() == failing) {
    EXPECT_EQ(journaled_ids(file), std::vector<std::uint64_t>{theirs[0]});
  }
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));  // no collective left dangling
}

TEST(MpiUnitExecutor, AStopRequestEndsTheLoopBeforeTheNextUnitOnEveryRank) {
  auto world = Communicator::world();
  const auto f = fixture(world, 6);
  auto options = quiet_options();
  options.stop_requested = [&] { return world.rank() == 0; };
  testing::TempDir dir;
  const auto file = dir.path() / "r.jrn";
  std::ostringstream progress;
  const auto done = execute_units(world, f.run, stages::whole_unit_work(f.run.units(), f.shards),
                                  std::make_unique<io::JournalWriter>(file), options, progress);
  EXPECT_FALSE(done.failure.has_value());
  EXPECT_TRUE(done.stopped);
  if (world.rank() == 0) {
    EXPECT_TRUE(journaled_ids(file).empty());
  }
  std::uint64_t others = 0;
  for (int r = 1; r < world.size(); ++r) others += f.shards.units_of_rank[static_cast<std::size_t>(r)].size();
  EXPECT_EQ(done.computed, others);
}

/// The first 40 units of the suite at 8 KiB row blocks, their bytes read as `reads` says: the
/// merged blocks are execute_unit's outcomes bit for bit, and the items were copied (every range
/// fits the copy's buffers) or mapped, all of them, as asked; with UnitReads::automatic, every
/// item is part of the trial (reads_trial_min_bytes 0), so some are mapped and some copied.
void row_blocks_merge_to_execute_units_outcome(UnitReads reads) {
  auto world = Communicator::world();
  const auto f = fixture(world, 0);
  const auto& units = f.run.units();
  // The first 40 units at 8 KiB blocks: most of them split into several blocks.
  constexpr std::uint64_t block_bytes = 8 << 10;
  std::vector<std::uint8_t> done_units(units.size(), 1);
  for (std::size_t i = 0; i < 40 && i < units.size(); ++i) done_units[i] = 0;
  const auto work = stages::plan_work(units, done_units, {}, world.size(), block_bytes);
  ASSERT_GT(work.block_items(), 40u);
  std::optional<testing::TempDir> dir;
  const auto store = shared_store(world, dir);
  auto options = quiet_options();
  options.row_block_bytes = block_bytes;
  options.unit_reads = reads;
  options.reads_trial_min_bytes = 0;
  // The progress line counts work items, and says so: the blocks of split units are counted.
  options.progress.quiet = false;
  options.progress.send_interval = options.progress.print_interval = std::chrono::milliseconds(0);
  std::ostringstream progress;
  const auto done = execute_units(world, f.run, work,
                                  std::make_unique<io::JournalWriter>(io::rank_journal_path(store, world.rank(), "s")),
                                  options, progress);
  EXPECT_FALSE(done.failure.has_value());
  EXPECT_EQ(done.computed, work.items.size());
  EXPECT_EQ(done.computed_blocks, work.block_items());
  if (reads == UnitReads::automatic) {
    // Each rank with a whole trial's items (a warm-up and six each way; a unit's block 0 is not
    // counted) mapped at least seven items and copied at least seven, and kept one way.
    constexpr std::uint64_t per_way = cluster::UnitReadsChoice::kTrialsPerWay + 1;
    std::uint64_t trial_ranks = 0;
    for (int r = 0; r < world.size(); ++r) {
      const auto items = work.items_of_rank(r);
      const auto counted = std::count_if(items.begin(), items.end(), [](const stages::WorkItem* item) {
        return !item->block || item->block->index != 0;
      });
      trial_ranks += static_cast<std::uint64_t>(counted) >= 2 * per_way ? 1 : 0;
    }
    ASSERT_GT(trial_ranks, 0u);
    EXPECT_GE(done.mapped, trial_ranks * per_way);
    EXPECT_LE(done.mapped, work.items.size() - trial_ranks * per_way);
    EXPECT_GE(done.ranks_decided, trial_ranks);
  } else {
    EXPECT_EQ(done.mapped, reads == UnitReads::map ? work.items.size() : 0u);
    EXPECT_EQ(done.ranks_decided, 0u);
  }
  if (world.is_root()) {
    const auto items = std::to_string(work.items.size());
    EXPECT_NE(progress.str().find("units and row blocks " + items + "/" + items), std::string::npos) << progress.str();
    const auto merged = testing::journaled_outcomes(store, units, block_bytes);
    EXPECT_TRUE(merged.pending_blocks.empty());
    EXPECT_EQ(merged.done.size(), 40u);  // (no ASSERT on rank 0: the other ranks wait at the last sum)
    UnitBytes bytes(f.run.models);
    for (const auto& [id, o] : merged.done) {
      const auto& u = units[id];
      const auto want = stages::execute_unit(u, bytes.of(u.a), bytes.of(u.b), options.null, block_bytes);
      const auto got_columns = stages::stat_columns(o.stats), want_columns = stages::stat_columns(want.stats);
      EXPECT_EQ(got_columns.size(), want_columns.size());
      for (std::size_t c = 0; c < std::min(got_columns.size(), want_columns.size()); ++c) {
        EXPECT_EQ(std::memcmp(&got_columns[c], &want_columns[c], sizeof(double)), 0)
            << "unit " << id << " " << stages::unit_stat_names()[c];
      }
      EXPECT_EQ(o.hash_a, want.hash_a) << id;
      EXPECT_EQ(o.hash_b, want.hash_b) << id;
      EXPECT_EQ(o.neuron_match, want.neuron_match) << id;
      EXPECT_EQ(o.sketch_a, want.sketch_a) << id;
    }
  }
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));  // rank 0 keeps the folder until here
}

TEST(MpiUnitExecutor, RowBlocksSpreadOverRanksMergeToExecuteUnitsOutcome) {
  row_blocks_merge_to_execute_units_outcome(UnitReads::copy);
}

TEST(MpiUnitExecutor, UnitsReadThroughTheMappingGiveTheCopiedUnitsOutcomes) {
  row_blocks_merge_to_execute_units_outcome(UnitReads::map);
}

TEST(MpiUnitExecutor, UnitsReadEachWayByTheTrialOfReadUnitsAutoGiveTheCopiedUnitsOutcomes) {
  row_blocks_merge_to_execute_units_outcome(UnitReads::automatic);
}

// Baselines and within-model units read their sampled rows by pread (UnitBytes::read_rows, one
// call per run of rows that follow each other in the file): their journaled outcomes are
// execute_unit's over the mapped tensors, bit for bit, and read_rows gives every row's bytes as the
// mapping shows them, in runs and alone.
TEST(MpiUnitExecutor, SampledUnitsReadTheirRowsByPreadAsTheMappingShowsThem) {
  auto world = Communicator::world();
  // A base and its fine-tune at hidden size 512, written by rank 0: their attention matrices
  // exceed what a unit keeps whole, so their baselines and within-model units are sampled (the
  // suite's models are too small for that).
  std::optional<testing::TempDir> models;
  std::string models_dir;
  if (world.is_root()) {
    models.emplace();
    models_dir = models->path().string();
    static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
    const auto style =
        tools::load_style(testing::test_styles_dir(), "qwen2_moe", {{"hidden_size", 512}, {"num_hidden_layers", 3}});
    const auto expand = tools::make_expand(registry);
    const auto base = tools::make_base(style, 1, expand);
    tools::write_model(base, models->path() / "base");
    auto in = tools::suite_scenario_inputs(style, base, base, expand);
    in.seed = 2;
    tools::write_model(tools::make_scenario("finetune", in), models->path() / "finetune");
  }
  const auto m = world.broadcast({reinterpret_cast<const std::byte*>(models_dir.data()), models_dir.size()}, 0);
  models_dir.assign(reinterpret_cast<const char*>(m.data()), m.size());
  static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  RunConfig cfg;
  cfg.suspect = models_dir + "/finetune";
  cfg.parents = {models_dir + "/base"};
  const auto run = stages::build_run_plan(cfg, registry);
  const auto& units = run.units();
  std::vector<std::uint8_t> done_units(units.size(), 1);
  std::size_t chosen = 0;
  std::set<UnitKind> kinds;
  for (const auto& u : units) {
    if (stages::reads_sampled_rows_only(u)) done_units[u.id] = 0, ++chosen, kinds.insert(u.kind);
  }
  ASSERT_GE(chosen, 20u);
  EXPECT_EQ(kinds, (std::set{UnitKind::baseline, UnitKind::within}));
  const auto work = stages::plan_work(units, done_units, {}, world.size(), stages::kRowBlockBytes);
  std::optional<testing::TempDir> dir;
  const auto store = shared_store(world, dir);
  const auto options = quiet_options();
  std::ostringstream progress;
  const auto done = execute_units(world, run, work,
                                  std::make_unique<io::JournalWriter>(io::rank_journal_path(store, world.rank(), "s")),
                                  options, progress);
  EXPECT_FALSE(done.failure.has_value());
  EXPECT_EQ(done.computed, chosen);
  if (world.is_root()) {
    // (No ASSERT on rank 0: returning early would leave the other ranks waiting at the last sum.)
    const auto merged = testing::journaled_outcomes(store, units, stages::kRowBlockBytes);
    EXPECT_EQ(merged.done.size(), chosen);
    UnitBytes bytes(run.models);
    for (const auto& [id, o] : merged.done) {
      const auto& u = units[id];
      const auto want = stages::execute_unit(u, bytes.of(u.a), bytes.of(u.b), options.null);
      EXPECT_EQ(o.serialize(), want.serialize()) << "unit " << id << " " << to_string(u.kind);
    }
    // Rows in runs (0-2, 7-8) and alone (5, the last), against the mapped bytes; then the same
    // rows of a view of the first half of the columns, whose rows do not follow each other.
    const auto& u = units[merged.done.begin()->first];
    stages::ElementView half = u.a;
    half.cols = u.cols / 2;
    for (const stages::ElementView* view : {&u.a, static_cast<const stages::ElementView*>(&half)}) {
      const std::vector<std::uint64_t> rows{0, 1, 2, 5, 7, 8, u.rows - 1};
      const auto size = dtype_size(view->dtype);
      const auto copied = bytes.read_rows(*view, rows, view->cols, 0);
      const std::vector<std::byte> got(copied.begin(), copied.end());
      const auto mapped = bytes.of(u.a);
      EXPECT_EQ(got.size(), rows.size() * view->cols * size);
      for (std::size_t k = 0; k < rows.size() && got.size() == rows.size() * view->cols * size; ++k) {
        const auto* want = mapped.data() + (view->offset + rows[k] * view->row_stride) * size;
        EXPECT_EQ(std::memcmp(got.data() + k * view->cols * size, want, view->cols * size), 0)
            << "row " << rows[k] << " of " << view->cols << " columns";
      }
    }
  }
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));  // rank 0 keeps the folders until here
}

}  // namespace
}  // namespace lineage::cluster
