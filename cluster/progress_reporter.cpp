#include "cluster/progress_reporter.hpp"

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>

#include "cluster/detail/mpi_check.hpp"
#include "cluster/detail/mpi_tags.hpp"

namespace lineage::cluster {
namespace {

using detail::kProgressTag;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (b >= 1000.0 && u < 5) {
    b /= 1000.0;
    ++u;
  }
  std::ostringstream o;
  o << std::fixed << std::setprecision(u == 0 ? 0 : 2) << b << " " << units[u];
  return o.str();
}

std::string human_seconds(double s) {
  if (!std::isfinite(s)) return "?";
  std::ostringstream o;
  const auto t = static_cast<long long>(std::llround(s));
  if (t >= 3600) {
    o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  } else if (t >= 60) {
    o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  } else {
    o << t << "s";
  }
  return o.str();
}

}  // namespace

std::string format_progress(const ProgressSnapshot& s) {
  std::ostringstream o;
  o << s.counted << " " << s.units_done << "/" << s.units_total << "  "
    << human_bytes(static_cast<double>(s.bytes_done)) << "/" << human_bytes(static_cast<double>(s.bytes_total));
  const double rate = s.elapsed_seconds > 0 ? static_cast<double>(s.bytes_done) / s.elapsed_seconds : 0.0;
  o << "  " << human_bytes(rate) << "/s";
  if (s.bytes_done >= s.bytes_total) {
    o << "  done in " << human_seconds(s.elapsed_seconds);
  } else {
    const double eta =
        rate > 0 ? static_cast<double>(s.bytes_total - s.bytes_done) / rate : std::numeric_limits<double>::infinity();
    o << "  ETA " << human_seconds(eta);
  }
  o << "  (" << s.ranks << (s.ranks == 1 ? " rank)" : " ranks)");
  return o.str();
}

ProgressReporter::ProgressReporter(const Communicator& comm, std::uint64_t units_total, std::uint64_t bytes_total,
                                   ProgressOptions options, std::ostream& out)
    : comm_(comm),
      options_(std::move(options)),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_send_(start_),
      last_print_(start_) {
  units_total_all_ = comm_.sum(units_total);
  bytes_total_all_ = comm_.sum(bytes_total);
  if (comm_.is_root()) {
    const auto n = static_cast<std::size_t>(comm_.size());
    units_by_rank_.assign(n, 0);
    bytes_by_rank_.assign(n, 0);
    final_by_rank_.assign(n, false);
  }
}

ProgressReporter::~ProgressReporter() {
  // A pending send must complete before its buffer dies; cancel is not reliable for sends.
  if (pending_ != MPI_REQUEST_NULL) MPI_Wait(&pending_, MPI_STATUS_IGNORE);
}

ProgressSnapshot ProgressReporter::global() const {
  ProgressSnapshot s;
  s.units_total = units_total_all_;
  s.bytes_total = bytes_total_all_;
  s.ranks = comm_.size();
  s.counted = options_.counted;
  s.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (comm_.is_root()) {
    for (std::size_t r = 0; r < units_by_rank_.size(); ++r) {
      s.units_done += units_by_rank_[r];
      s.bytes_done += bytes_by_rank_[r];
    }
  } else {
    s.units_done = my_units_;
    s.bytes_done = my_bytes_;
  }
  return s;
}

void ProgressReporter::drain_messages(bool block_until_all_final) {
  if (comm_.serial()) return;
  auto all_final = [&] {
    for (std::size_t r = 1; r < final_by_rank_.size(); ++r) {
      if (!final_by_rank_[r]) return false;
    }
    return true;
  };
  while (true) {
    int flag = 0;
    MPI_Status st;
    if (block_until_all_final && !all_final()) {
      detail::check(MPI_Probe(MPI_ANY_SOURCE, kProgressTag, comm_.native(), &st), "MPI_Probe");
      flag = 1;
    } else {
      detail::check(MPI_Iprobe(MPI_ANY_SOURCE, kProgressTag, comm_.native(), &flag, &st), "MPI_Iprobe");
    }
    if (!flag) return;
    std::uint64_t msg[3];
    detail::check(MPI_Recv(msg, 3, MPI_UINT64_T, st.MPI_SOURCE, kProgressTag, comm_.native(), MPI_STATUS_IGNORE),
                  "MPI_Recv(progress)");
    const auto r = static_cast<std::size_t>(st.MPI_SOURCE);
    // Messages from one source arrive in order, so the latest always wins.
    units_by_rank_[r] = msg[0];
    bytes_by_rank_[r] = msg[1];
    if (msg[2] != 0) final_by_rank_[r] = true;
    if (block_until_all_final && all_final()) {
      block_until_all_final = false;  // drain what is left without blocking, then stop
    }
  }
}

void ProgressReporter::maybe_print(bool force) {
  if (options_.quiet || !comm_.is_root()) return;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = options_.terminal ? std::chrono::milliseconds(200) : options_.print_interval;
  if (!force && now - last_print_ < interval) return;
  last_print_ = now;
  const auto line = options_.label + ": " + format_progress(global());
  if (options_.terminal) {
    out_ << "\r\033[K" << line << std::flush;
  } else {
    out_ << line << "\n" << std::flush;
  }
  printed_ = true;
}

void ProgressReporter::update(std::uint64_t units_done, std::uint64_t bytes_done) {
  my_units_ = units_done;
  my_bytes_ = bytes_done;
  const auto now = std::chrono::steady_clock::now();
  if (comm_.is_root()) {
    units_by_rank_[0] = units_done;
    bytes_by_rank_[0] = bytes_done;
    drain_messages(false);
    maybe_print(false);
    return;
  }
  if (now - last_send_ < options_.send_interval) return;
  if (pending_ != MPI_REQUEST_NULL) {
    int done = 0;
    detail::check(MPI_Test(&pending_, &done, MPI_STATUS_IGNORE), "MPI_Test(progress)");
    if (!done) return;  // the previous update is still in flight; skip this one
  }
  last_send_ = now;
  send_buffer_[0] = units_done;
  send_buffer_[1] = bytes_done;
  send_buffer_[2] = 0;
  detail::check(MPI_Isend(send_buffer_, 3, MPI_UINT64_T, 0, kProgressTag, comm_.native(), &pending_),
                "MPI_Isend(progress)");
}

ProgressSnapshot ProgressReporter::finish() {
  if (comm_.is_root()) {
    units_by_rank_[0] = my_units_;
    bytes_by_rank_[0] = my_bytes_;
    drain_messages(true);
    maybe_print(true);
    if (!options_.quiet && options_.terminal && printed_) out_ << "\n" << std::flush;
  } else if (!comm_.serial()) {
    if (pending_ != MPI_REQUEST_NULL) {
      detail::check(MPI_Wait(&pending_, MPI_STATUS_IGNORE), "MPI_Wait(progress)");
    }
    std::uint64_t msg[3] = {my_units_, my_bytes_, 1};
    detail::check(MPI_Send(msg, 3, MPI_UINT64_T, 0, kProgressTag, comm_.native()), "MPI_Send(progress final)");
  }
  comm_.barrier();
  return global();
}

}  // namespace lineage::cluster
