#pragma once
/// @file progress_reporter.hpp
/// Progress of long work across all ranks, shown by rank 0: units, bytes, rate and ETA.
/// Ranks send their counters to rank 0 at most every `send_interval` (small non-blocking
/// messages); rank 0 folds them in whenever it calls update() itself. On a terminal the line is
/// rewritten in place; otherwise a plain line is printed every `print_interval`.

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "cluster/communicator.hpp"

namespace lineage::cluster {

struct ProgressSnapshot {
  std::uint64_t units_done = 0;
  std::uint64_t units_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  double elapsed_seconds = 0;
  int ranks = 1;
  /// What units_done counts: "units", or "units and row blocks" when large units are split
  /// (each block is counted, so the totals are work items, not units).
  std::string counted = "units";
};

/// "units 12/40  1.20/3.40 GB  2.10 GB/s  ETA 1s" (pure; unit-tested).
[[nodiscard]] std::string format_progress(const ProgressSnapshot& s);

struct ProgressOptions {
  bool quiet = false;
  bool terminal = false;  ///< rewrite one line in place (stderr is a TTY)
  std::chrono::milliseconds send_interval{250};
  std::chrono::milliseconds print_interval{10'000};
  std::string label = "compare";
  std::string counted = "units";  ///< ProgressSnapshot::counted
};

class ProgressReporter {
 public:
  /// Collective. `units_total`/`bytes_total` are this rank's own totals; rank 0 learns the sum.
  ProgressReporter(const Communicator& comm, std::uint64_t units_total, std::uint64_t bytes_total,
                   ProgressOptions options, std::ostream& out);
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  /// Called by every rank whenever its own counters advance (cheap; throttled).
  void update(std::uint64_t units_done, std::uint64_t bytes_done);
  /// Collective: every rank reports its final counters; rank 0 prints the closing line.
  /// Returns the global snapshot on rank 0 (this rank's on others).
  ProgressSnapshot finish();

 private:
  void drain_messages(bool block_until_all_final);
  void maybe_print(bool force);
  [[nodiscard]] ProgressSnapshot global() const;

  const Communicator& comm_;
  ProgressOptions options_;
  std::ostream& out_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_send_;
  std::chrono::steady_clock::time_point last_print_;
  std::uint64_t units_total_all_ = 0;
  std::uint64_t bytes_total_all_ = 0;
  std::vector<std::uint64_t> units_by_rank_;  ///< rank 0 only
  std::vector<std::uint64_t> bytes_by_rank_;  ///< rank 0 only
  std::vector<bool> final_by_rank_;           ///< rank 0 only
  std::uint64_t my_units_ = 0;
  std::uint64_t my_bytes_ = 0;
  std::uint64_t send_buffer_[3] = {0, 0, 0};
  MPI_Request pending_ = MPI_REQUEST_NULL;
  bool printed_ = false;
};

}  // namespace lineage::cluster
