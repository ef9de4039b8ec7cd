#include "cluster/mpi_session.hpp"

#include <mpi.h>

#include <cstdlib>
#include <iostream>

#include "cluster/detail/mpi_check.hpp"

namespace lineage::cluster {

std::optional<std::string> preferred_pml(const std::function<std::optional<std::string>(const char*)>& read) {
  if (read("OMPI_MCA_pml")) return std::nullopt;  // the user's choice (mpirun --mca pml passes it so too)
  if (const auto size = read("OMPI_COMM_WORLD_SIZE")) {
    const auto local = read("OMPI_COMM_WORLD_LOCAL_SIZE");
    return local && *local == *size ? std::optional<std::string>("ob1") : std::nullopt;
  }
  const bool started_by_srun = read("PMIX_RANK") || read("PMI_RANK");
  if (started_by_srun && read("SLURM_STEP_NUM_NODES") == "1") return "ob1";
  return std::nullopt;
}

MpiSession::MpiSession(int& argc, char**& argv, const std::optional<std::string>& pml) {
  int initialized = 0;
  detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
  if (initialized) return;
  // Read by Open MPI at MPI_Init (other MPIs ignore it).
  if (pml) ::setenv("OMPI_MCA_pml", pml->c_str(), 1);
  int provided = 0;
  detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors must come back as codes so that check() can turn them into typed exceptions
  // instead of MPI aborting the job from inside a library call.
  detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  owns_ = true;
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && MPI_Finalize() != MPI_SUCCESS) {
    std::cerr << "lineage: warning: MPI_Finalize failed\n";  // never throw from a destructor
  }
}

bool MpiSession::active() noexcept {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

}  // namespace lineage::cluster
