#pragma once
/// @file mpi_session.hpp
/// RAII for MPI_Init_thread / MPI_Finalize. Exactly one per process, owned by main().

namespace lineage::cluster {

class MpiSession {
 public:
  /// Initialises MPI (MPI_THREAD_FUNNELED). Throws ClusterError on failure.
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
