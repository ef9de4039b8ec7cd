#include "cluster/phase.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <new>
#include <stdexcept>
#include <system_error>

namespace lineage::cluster {
namespace {

// The failure protocol on the serial stand-in (no MPI): what a phase body throws becomes one
// typed PhaseError with the right exit code.

TEST(Phase, ReturnsTheBodysValue) {
  const auto comm = Communicator::self_only();
  EXPECT_EQ(run_phase(comm, "plan", PhaseCategory::own(), [] { return 42; }), 42);
  int calls = 0;
  run_phase(comm, "plan", PhaseCategory::own(), [&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(Phase, KeepsALineageErrorsOwnCode) {
  const auto comm = Communicator::self_only();
  try {
    run_phase(comm, "load", PhaseCategory::own(), []() -> int { throw InputError("m/config.json", "bad"); });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::input);
    EXPECT_EQ(e.phase(), "load");
    ASSERT_EQ(e.messages().size(), 1u);
    EXPECT_EQ(std::string(e.what()), "m/config.json: bad");  // one rank: no "rank 0:" prefix
  }
}

TEST(Phase, CatchesStandardExceptionsAsInternalOrAsThePhasesCategory) {
  const auto comm = Communicator::self_only();
  const auto fs_error = [] {
    throw std::filesystem::filesystem_error("cannot create directories", "run.h5.journal",
                                            std::make_error_code(std::errc::file_exists));
  };
  try {
    run_phase(comm, "journal", PhaseCategory::always(ExitCode::store), fs_error);
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::store);
    EXPECT_NE(std::string(e.what()).find("run.h5.journal"), std::string::npos) << e.what();
  }
  try {
    run_phase(comm, "pair", PhaseCategory::own(), [] { throw std::runtime_error("boom"); });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::internal);
    EXPECT_EQ(std::string(e.what()), "internal error: boom");
  }
  try {
    run_phase(comm, "compute", PhaseCategory::own(), [] { throw std::bad_alloc(); });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::internal);
    EXPECT_EQ(std::string(e.what()), "out of memory");
  }
  try {
    run_phase(comm, "compute", PhaseCategory::own(), [] { throw 7; });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::internal);
  }
}

TEST(Phase, AStoreCategoryOverridesALineageErrorsCode) {
  const auto comm = Communicator::self_only();
  try {
    run_phase(comm, "gather", PhaseCategory::always(ExitCode::store),
              [] { throw InputError("run.h5.journal/r0.jrn", "cannot read journal"); });
    FAIL() << "no PhaseError";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::store);
  }
}

}  // namespace
}  // namespace lineage::cluster
