// The unit executor (cluster/unit_executor.hpp) on 1, 2 and 3 ranks: every planned unit is
// computed once, by the rank the shard plan names, into that rank's journal; a failing unit ends
// the compute on every rank with one agreed error and leaves the finished units journaled; a stop
// request ends it after a clean checkpoint.
#include "cluster/unit_executor.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "io/family_file.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"

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

}  // namespace
}  // namespace lineage::cluster
