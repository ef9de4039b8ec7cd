// Which processes take MPI (pipeline/environment.hpp, cluster::kMpiRankVariables): a rank a
// launcher started does, a process started alone runs serially.
#include "cluster/launcher.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "pipeline/environment.hpp"

namespace lineage::pipeline {
namespace {

/// A reader of the given variables alone, as environment() reads (empty values are unset).
auto reader_of(const std::map<std::string, std::string>& variables) {
  return [variables](const char* name) -> std::optional<std::string> {
    const auto it = variables.find(name);
    if (it == variables.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(Launcher, AProcessStartedAloneIsNoRank) {
  EXPECT_FALSE(started_as_mpi_rank(reader_of({})));
  // Slurm's own variables (a batch script's process) and empty values make no rank either.
  EXPECT_FALSE(started_as_mpi_rank(reader_of({{"SLURM_JOB_ID", "42"}, {"SLURM_PROCID", "0"}, {"PMIX_RANK", ""}})));
}

TEST(Launcher, EachLaunchersVariableMakesARank) {
  for (const char* name : cluster::kMpiRankVariables) {
    EXPECT_TRUE(started_as_mpi_rank(reader_of({{name, "0"}}))) << name;
  }
  EXPECT_TRUE(started_as_mpi_rank(reader_of({{"OMPI_COMM_WORLD_SIZE", "2"}, {"PMIX_RANK", "1"}})));
}

}  // namespace
}  // namespace lineage::pipeline
