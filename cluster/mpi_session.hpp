#pragma once
/// @file mpi_session.hpp
/// RAII for MPI_Init_thread / MPI_Finalize. Exactly one per process, owned by main().

#include <functional>
#include <optional>
#include <string>

namespace lineage::cluster {

/// The Open MPI point-to-point layer (PML) a rank should ask for before MPI_Init, from its
/// environment (`read` returns a variable's value, nothing where unset or empty; pipeline/environment.cpp
/// reads it): "ob1" where the user chose no PML (OMPI_MCA_pml) and every rank of the job runs on
/// this node, as mpirun says (OMPI_COMM_WORLD_LOCAL_SIZE equal to OMPI_COMM_WORLD_SIZE; a rank
/// mpirun started is judged by these alone, whatever Slurm variables it inherited) or, for a rank
/// srun started (PMIX_RANK or PMI_RANK, no OMPI_COMM_WORLD_SIZE), SLURM_STEP_NUM_NODES=1. On
/// Debian's Open MPI, whose configuration excludes UCX, ob1 is what MPI_Init takes there anyway,
/// after loading the `cm` PML's interconnect libraries (PSM, PSM2) to find no such hardware: about
/// 0.2 s of every rank's start on the 2-core machine (docs/benchmarks.md). Elsewhere it replaces
/// Open MPI's choice (UCX, PSM2) for ranks that share a node, whose few messages shared memory
/// carries as well. Nothing where the ranks may span nodes.
[[nodiscard]] std::optional<std::string> preferred_pml(
    const std::function<std::optional<std::string>(const char*)>& read);

class MpiSession {
 public:
  /// Initialises MPI (MPI_THREAD_FUNNELED); with `pml`, asks Open MPI for that PML first (sets
  /// OMPI_MCA_pml: preferred_pml()). Throws ClusterError on failure.
  MpiSession(int& argc, char**& argv, const std::optional<std::string>& pml = std::nullopt);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  /// True when MPI was initialised by this process (and not yet finalised).
  [[nodiscard]] static bool active() noexcept;

 private:
  bool owns_ = false;
};

}  // namespace lineage::cluster
