#pragma once
/// @file communicator.hpp
/// The only MPI handle stages-facing code ever sees. Passed explicitly (never MPI_COMM_WORLD
/// deep inside), so tests can run on sub-communicators. All collectives are checked.

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

namespace lineage::cluster {

class Communicator {
 public:
  /// MPI_COMM_WORLD (not owned). Precondition: an MpiSession is alive.
  static Communicator world();
  /// A serial stand-in with rank 0 of 1 that performs no MPI calls (for tools run without
  /// mpirun and for unit tests of code that takes a Communicator).
  static Communicator self_only();

  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator();

  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }
  [[nodiscard]] bool is_root() const noexcept { return rank_ == 0; }
  /// True for the serial stand-in (no MPI behind it).
  [[nodiscard]] bool serial() const noexcept { return serial_; }
  /// The MPI handle, for other cluster/ code only (point-to-point progress messages; every tag in
  /// cluster/detail/mpi_tags.hpp).
  [[nodiscard]] MPI_Comm native() const noexcept { return handle_; }

  /// Collective: a new communicator of the ranks with the same colour, ordered by key.
  [[nodiscard]] Communicator split(int color, int key) const;
  /// Collective.
  void barrier() const;
  /// Collective: true on every rank if `local_failed` is true on any rank (allreduce MAX).
  /// Used before aborting so one rank's exception never leaves the others hung. Waits by polling
  /// with short sleeps, not by spinning.
  [[nodiscard]] bool any(bool local_failed) const;
  /// Collective: sum / max of one value over ranks.
  [[nodiscard]] std::uint64_t sum(std::uint64_t value) const;
  [[nodiscard]] double max(double value) const;
  /// Collective: every rank's bytes on `root`, in rank order (empty vector on other ranks).
  [[nodiscard]] std::vector<std::vector<std::byte>> gather(std::span<const std::byte> bytes, int root) const;
  /// The same, root's own bytes moved into its entry instead of copied (a large share held once);
  /// the other ranks' `bytes` are emptied once sent.
  [[nodiscard]] std::vector<std::vector<std::byte>> gather(std::vector<std::byte>&& bytes, int root) const;
  /// Collective: root's bytes on every rank.
  [[nodiscard]] std::vector<std::byte> broadcast(std::span<const std::byte> bytes, int root) const;
  /// Collective: root's `records` on every rank (resized to root's count).
  template <typename T>
  void broadcast_records(std::vector<T>& records, int root) const {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto b = broadcast({reinterpret_cast<const std::byte*>(records.data()), records.size() * sizeof(T)}, root);
    records.resize(b.size() / sizeof(T));
    if (!b.empty()) std::memcpy(records.data(), b.data(), b.size());
  }

 private:
  Communicator(MPI_Comm handle, bool owned, bool serial);
  /// gather: the other ranks send `sent`; the root's entry is `own`.
  [[nodiscard]] std::vector<std::vector<std::byte>> gather_shares(std::span<const std::byte> sent,
                                                                  std::vector<std::byte> own, int root) const;
  MPI_Comm handle_ = MPI_COMM_NULL;
  bool owned_ = false;
  bool serial_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace lineage::cluster
