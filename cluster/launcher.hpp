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

}  // namespace lineage::cluster
