#pragma once
/// @file launcher.hpp
/// The bond between a rank and the process that launched it (mpirun, orted, slurmstepd).

#include <array>

namespace lineage::cluster {

/// Makes the kernel SIGKILL this process when its parent (the launcher) dies, so that ranks never
/// outlive a killed mpirun and go on writing the journal and the store (prctl PR_SET_PDEATHSIG).
/// If the launcher is already gone, the process exits at once. Call only in a process started by
/// an MPI launcher: a command started from a shell must survive its shell. (The kernel fires the
/// signal when the forking *thread* ends; Open MPI 4.1's mpirun and orted fork from their main
/// thread, which lives as long as the job: tests/cli/compare_kill_loop.sh and the kill loop.)
void die_with_launcher() noexcept;

/// The variables MPI launchers give the ranks they start: Open MPI's mpirun and orted
/// (OMPI_COMM_WORLD_SIZE), PMIx launchers such as `srun --mpi=pmix` (PMIX_RANK), PMI-1/2 ones such
/// as `srun --mpi=pmi2` and MPICH's (PMI_RANK, PMI_SIZE). A process with none of them set would
/// get from MPI_Init a world of itself alone, after Open MPI starts a helper daemon for it (its
/// singleton start-up, 0.3-0.4 s here): `compare` then runs serially instead (docs/cli.md).
inline constexpr std::array<const char*, 4> kMpiRankVariables = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                                                 "PMI_SIZE"};

}  // namespace lineage::cluster
