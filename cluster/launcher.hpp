#pragma once
/// @file launcher.hpp
/// The bond between a rank and the process that launched it (mpirun, orted, slurmstepd).

namespace lineage::cluster {

/// Makes the kernel SIGKILL this process when its parent (the launcher) dies, so that ranks never
/// outlive a killed mpirun and go on writing the journal and the store (prctl PR_SET_PDEATHSIG).
/// If the launcher is already gone, the process exits at once. Call only in a process started by
/// an MPI launcher: a command started from a shell must survive its shell. (The kernel fires the
/// signal when the forking *thread* ends; Open MPI 4.1's mpirun and orted fork from their main
/// thread, which lives as long as the job: tests/cli/compare_kill_loop.sh and the kill loop.)
void die_with_launcher() noexcept;

/// Whether an MPI launcher started this process as a rank: one of the variables launchers give
/// their ranks is set (Open MPI's mpirun and orted: OMPI_COMM_WORLD_SIZE; PMIx, as srun
/// --mpi=pmix: PMIX_RANK; PMI-1/2, as srun --mpi=pmi2 and MPICH's launchers: PMI_RANK, PMI_SIZE).
/// Without one, MPI_Init makes a world of this process alone, after starting a helper daemon
/// (Open MPI's singleton: about a quarter of a second here), so a command can run serially
/// (Communicator::self_only) instead, with the same result.
[[nodiscard]] bool started_by_launcher() noexcept;

}  // namespace lineage::cluster
