#include "cluster/phase.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace lineage::cluster {
namespace {

// One rank throws inside a phase; every rank must leave the phase with the same PhaseError
// (never a rank waiting in a collective), and the communicator must still work afterwards.

TEST(MpiPhase, OneRanksStdExceptionReachesEveryRankAsAStoreError) {
  auto world = Communicator::world();
  const int failing = world.size() - 1;
  try {
    run_phase(world, "journal", PhaseCategory::always(ExitCode::store), [&] {
      if (world.rank() == failing) {
        throw std::filesystem::filesystem_error("cannot create directories", "run.h5.journal",
                                                std::make_error_code(std::errc::file_exists));
      }
    });
    FAIL() << "rank " << world.rank() << ": no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::store);
    ASSERT_EQ(e.messages().size(), 1u);
    const std::string what = e.what();
    EXPECT_NE(what.find("run.h5.journal"), std::string::npos) << what;
    if (world.size() > 1) {
      EXPECT_EQ(what.rfind("rank " + std::to_string(failing) + ": ", 0), 0u) << what;
    }
  }
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));  // no collective left dangling
}

TEST(MpiPhase, EveryFailingRankIsReportedAndTheFirstOnesCodeWins) {
  auto world = Communicator::world();
  try {
    run_phase(world, "compute", PhaseCategory::own(), [&]() -> int {
      if (world.rank() == 0) throw InputError("a.safetensors", "truncated");
      if (world.rank() == 2) throw StoreError("journal write failed");
      return world.rank();
    });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::input);
    EXPECT_EQ(e.messages().size(), world.size() >= 3 ? 2u : 1u);
  }
}

TEST(MpiPhase, NoFailureMeansNoError) {
  auto world = Communicator::world();
  EXPECT_EQ(run_phase(world, "plan", PhaseCategory::own(), [&] { return world.rank() * 2; }), world.rank() * 2);
}

}  // namespace
}  // namespace lineage::cluster
