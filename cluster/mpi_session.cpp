#include "cluster/mpi_session.hpp"

#include <mpi.h>

#include <iostream>

#include "cluster/detail/mpi_check.hpp"

namespace lineage::cluster {

MpiSession::MpiSession(int& argc, char**& argv) {
  int initialized = 0;
  detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
  if (initialized) return;
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
