// Which processes take MPI (pipeline/environment.hpp, cluster::kMpiRankVariables): a rank a
// launcher started does, a process started alone runs serially. And the PML a rank asks Open MPI
// for before MPI_Init (cluster::preferred_pml): ob1 where the launcher says every rank is on this
// node, nothing where the user chose or the job may span nodes.
#include "cluster/launcher.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "cluster/mpi_session.hpp"
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

TEST(PreferredPml, RanksOfOneNodeTakeOb1) {
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
            "ob1");
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "1"}})),
            "ob1");
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"PMIX_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "1"}})), "ob1");
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"PMI_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "1"}})), "ob1");
  // mpirun's word is taken over the Slurm variables its ranks inherit.
  EXPECT_EQ(cluster::preferred_pml(reader_of(
                {{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}, {"SLURM_STEP_NUM_NODES", "3"}})),
            "ob1");
}

TEST(PreferredPml, RanksThatMaySpanNodesKeepOpenMpisChoice) {
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
            std::nullopt);
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"PMIX_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "2"}})), std::nullopt);
  // mpirun started inside a one-node Slurm step (salloc, srun --pty) with ranks on other nodes: the
  // inherited step's node count is not this job's.
  EXPECT_EQ(cluster::preferred_pml(reader_of(
                {{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}, {"SLURM_STEP_NUM_NODES", "1"}})),
            std::nullopt);
  // A process no launcher started as a rank (a batch script's shell).
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"SLURM_STEP_NUM_NODES", "1"}})), std::nullopt);
  // A launcher that says nothing of the nodes (or half of it) is not taken for one node.
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "2"}})), std::nullopt);
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}})), std::nullopt);
  EXPECT_EQ(cluster::preferred_pml(reader_of({})), std::nullopt);
}

TEST(PreferredPml, TheUsersChoiceStands) {
  EXPECT_EQ(cluster::preferred_pml(reader_of(
                {{"OMPI_MCA_pml", "ucx"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
            std::nullopt);
  EXPECT_EQ(cluster::preferred_pml(reader_of({{"OMPI_MCA_pml", "^ucx"}, {"SLURM_STEP_NUM_NODES", "1"}})), std::nullopt);
}

}  // namespace
}  // namespace lineage::pipeline
