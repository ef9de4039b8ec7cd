// Which processes take MPI (cluster/launcher.hpp): a rank a launcher started does, a process
// started alone runs serially.
#include "cluster/launcher.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace lineage::cluster {
namespace {

/// Sets (or unsets, with nullopt) one variable for the scope, restoring what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* was = std::getenv(name)) was_ = was;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (was_) {
      ::setenv(name_, was_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> was_;
};

constexpr const char* kLauncherVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};

TEST(Launcher, AProcessStartedAloneIsNoRank) {
  ScopedVariable a(kLauncherVariables[0], std::nullopt), b(kLauncherVariables[1], std::nullopt),
      c(kLauncherVariables[2], std::nullopt), d(kLauncherVariables[3], std::nullopt);
  EXPECT_FALSE(started_by_launcher());
  // Slurm's own variables (a batch script's process) and empty values make no rank either.
  const ScopedVariable job("SLURM_JOB_ID", "42"), empty("PMIX_RANK", "");
  EXPECT_FALSE(started_by_launcher());
}

TEST(Launcher, EachLaunchersVariableMakesARank) {
  for (const char* name : kLauncherVariables) {
    ScopedVariable a(kLauncherVariables[0], std::nullopt), b(kLauncherVariables[1], std::nullopt),
        c(kLauncherVariables[2], std::nullopt), d(kLauncherVariables[3], std::nullopt);
    const ScopedVariable set(name, "0");
    EXPECT_TRUE(started_by_launcher()) << name;
  }
}

}  // namespace
}  // namespace lineage::cluster
