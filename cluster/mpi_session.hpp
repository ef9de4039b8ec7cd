#pragma once
/// @file mpi_session.hpp
/// RAII for MPI_Init_thread / MPI_Finalize. Exactly one per process, owned by main().

#include <functional>
#include <optional>
#include <string>

namespace lineage::cluster {

/// The Open MPI point-to-point layer (PML) a process should ask for before MPI_Init, from its
/// environment (`read` returns a variable's value, nothing where unset or empty): "ob1" when the launcher says every
/// rank of the job runs on this node (mpirun's OMPI_COMM_WORLD_SIZE equal to
/// OMPI_COMM_WORLD_LOCAL_SIZE, or srun's SLURM_STEP_NUM_NODES of 1), so that Open MPI does not
/// first load the `cm` PML's interconnect libraries (PSM, PSM2) to find no such hardware and
/// take ob1 anyway: about 0.2 s of every rank's start on the 2-core machine (docs/benchmarks.md).
/// Nothing when the user chose a PML (OMPI_MCA_pml) or the ranks may span nodes.
[[nodiscard]] std::optional<std::string> preferred_pml(
    const std::function<std::optional<std::string>(const char*)>& read);

class MpiSession {
 public:
  /// Initialises MPI (MPI_THREAD_FUNNELED), with the PML preferred_pml() names for this
  /// process's environment (set as OMPI_MCA_pml). Throws ClusterError on failure.
  MpiSession(int& argc, char**& argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  /// True when MPI was initialised by this process (and not yet finalised).
  [[nodiscard]] static bool active() noexcept;

 private:
  bool owns_ = false;
};

}  // namespace lineage::cluster
