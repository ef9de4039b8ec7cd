// The PML a rank asks Open MPI for before MPI_Init (cluster/mpi_session.hpp): ob1 where the
// launcher says every rank is on this node, nothing where the user chose or the job may span nodes.
#include "cluster/mpi_session.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

namespace lineage::cluster {
namespace {

/// A reader of the given variables alone (empty values are unset), as MpiSession reads.
auto reader_of(const std::map<std::string, std::string>& variables) {
  return [variables](const char* name) -> std::optional<std::string> {
    const auto it = variables.find(name);
    if (it == variables.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

TEST(PreferredPml, RanksOfOneNodeTakeOb1) {
  EXPECT_EQ(preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})), "ob1");
  EXPECT_EQ(preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "1"}})), "ob1");
  EXPECT_EQ(preferred_pml(reader_of({{"PMIX_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "1"}})), "ob1");
  EXPECT_EQ(preferred_pml(reader_of({{"PMI_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "1"}})), "ob1");
  // mpirun's word is taken over the Slurm variables its ranks inherit.
  EXPECT_EQ(preferred_pml(reader_of(
                {{"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}, {"SLURM_STEP_NUM_NODES", "3"}})),
            "ob1");
}

TEST(PreferredPml, RanksThatMaySpanNodesKeepOpenMpisChoice) {
  EXPECT_EQ(preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
            std::nullopt);
  EXPECT_EQ(preferred_pml(reader_of({{"PMIX_RANK", "0"}, {"SLURM_STEP_NUM_NODES", "2"}})), std::nullopt);
  // mpirun started inside a one-node Slurm step (salloc, srun --pty) with ranks on other nodes: the
  // inherited step's node count is not this job's.
  EXPECT_EQ(preferred_pml(reader_of(
                {{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}, {"SLURM_STEP_NUM_NODES", "1"}})),
            std::nullopt);
  // A process no launcher started as a rank (a batch script's shell).
  EXPECT_EQ(preferred_pml(reader_of({{"SLURM_STEP_NUM_NODES", "1"}})), std::nullopt);
  // A launcher that says nothing of the nodes (or half of it) is not taken for one node.
  EXPECT_EQ(preferred_pml(reader_of({{"OMPI_COMM_WORLD_SIZE", "2"}})), std::nullopt);
  EXPECT_EQ(preferred_pml(reader_of({{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}})), std::nullopt);
  EXPECT_EQ(preferred_pml(reader_of({})), std::nullopt);
}

TEST(PreferredPml, TheUsersChoiceStands) {
  EXPECT_EQ(preferred_pml(reader_of(
                {{"OMPI_MCA_pml", "ucx"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}})),
            std::nullopt);
  EXPECT_EQ(preferred_pml(reader_of({{"OMPI_MCA_pml", "^ucx"}, {"SLURM_STEP_NUM_NODES", "1"}})), std::nullopt);
}

}  // namespace
}  // namespace lineage::cluster
