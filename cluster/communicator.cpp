#include "cluster/communicator.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <utility>

#include "cluster/detail/mpi_check.hpp"
#include "cluster/detail/mpi_tags.hpp"

namespace lineage::cluster {
namespace {

int checked_count(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw ClusterError("message of " + std::to_string(n) + " bytes exceeds MPI's int count");
  }
  return static_cast<int>(n);
}

}  // namespace

Communicator::Communicator(MPI_Comm handle, bool owned, bool serial) : handle_(handle), owned_(owned), serial_(serial) {
  if (serial_) return;
  detail::check(MPI_Comm_rank(handle_, &rank_), "MPI_Comm_rank");
  detail::check(MPI_Comm_size(handle_, &size_), "MPI_Comm_size");
}

Communicator Communicator::world() { return Communicator(MPI_COMM_WORLD, false, false); }

Communicator Communicator::self_only() { return Communicator(MPI_COMM_NULL, false, true); }

Communicator::Communicator(Communicator&& other) noexcept
    : handle_(std::exchange(other.handle_, MPI_COMM_NULL)),
      owned_(std::exchange(other.owned_, false)),
      serial_(other.serial_),
      rank_(other.rank_),
      size_(other.size_) {}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    if (owned_ && handle_ != MPI_COMM_NULL) MPI_Comm_free(&handle_);
    handle_ = std::exchange(other.handle_, MPI_COMM_NULL);
    owned_ = std::exchange(other.owned_, false);
    serial_ = other.serial_;
    rank_ = other.rank_;
    size_ = other.size_;
  }
  return *this;
}

Communicator::~Communicator() {
  // Freeing after MPI_Finalize is an error; skip it then (nothing can leak past finalize).
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owned_ && handle_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&handle_);
}

Communicator Communicator::split(int color, int key) const {
  if (serial_) return self_only();
  MPI_Comm out = MPI_COMM_NULL;
  detail::check(MPI_Comm_split(handle_, color, key, &out), "MPI_Comm_split");
  detail::check(MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  return Communicator(out, true, false);
}

void Communicator::barrier() const {
  if (!serial_) detail::check(MPI_Barrier(handle_), "MPI_Barrier");
}

bool Communicator::any(bool local_failed) const {
  if (serial_) return local_failed;
  int in = local_failed ? 1 : 0;
  int out = 0;
  // Every phase ends here, and a rank often waits long for another (rank 0's matching and
  // verdict, the last units of the pass). A blocking allreduce would spin a core all that time,
  // which a shared node pays for; poll instead, sleeping up to a millisecond between tests.
  MPI_Request request = MPI_REQUEST_NULL;
  detail::check(MPI_Iallreduce(&in, &out, 1, MPI_INT, MPI_MAX, handle_, &request), "MPI_Iallreduce(any)");
  auto pause = std::chrono::microseconds(1);
  for (;;) {
    int done = 0;
    detail::check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test(any)");
    if (done != 0) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
  return out != 0;
}

std::uint64_t Communicator::sum(std::uint64_t value) const {
  if (serial_) return value;
  std::uint64_t out = 0;
  detail::check(MPI_Allreduce(&value, &out, 1, MPI_UINT64_T, MPI_SUM, handle_), "MPI_Allreduce(sum)");
  return out;
}

double Communicator::max(double value) const {
  if (serial_) return value;
  double out = 0;
  detail::check(MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, MPI_MAX, handle_), "MPI_Allreduce(max)");
  return out;
}

std::vector<std::vector<std::byte>> Communicator::gather(std::span<const std::byte> bytes, int root) const {
  const bool keeps_own = serial_ || rank_ == root;
  return gather_shares(bytes, keeps_own ? std::vector<std::byte>(bytes.begin(), bytes.end()) : std::vector<std::byte>{},
                       root);
}

std::vector<std::vector<std::byte>> Communicator::gather(std::vector<std::byte>&& bytes, int root) const {
  if (serial_ || rank_ == root) return gather_shares({}, std::move(bytes), root);
  auto out = gather_shares(bytes, {}, root);
  std::vector<std::byte>().swap(bytes);  // sent: the caller gave it up
  return out;
}

std::vector<std::vector<std::byte>> Communicator::gather_shares(std::span<const std::byte> sent,
                                                                std::vector<std::byte> own, int root) const {
  if (serial_) {
    std::vector<std::vector<std::byte>> out;  // not {std::move(own)}: an initializer list copies
    out.push_back(std::move(own));
    return out;
  }
  // Each share goes straight into its own vector on the root, not through one buffer of them all
  // that is then copied apart: the root holds every share once, its own where it already lies (a
  // deep MoE pair's sketch record is tens of megabytes a rank). Sizes travel as 64-bit counts and
  // shares in pieces of at most kSharePiece bytes, so no size is refused on one rank alone (the
  // others would wait in the next collective).
  using detail::kShareTag;
  constexpr std::uint64_t kSharePiece = std::uint64_t{1} << 30;
  const bool is_root = rank_ == root;
  const std::uint64_t count = is_root ? 0 : sent.size();
  std::vector<std::uint64_t> counts(is_root ? static_cast<std::size_t>(size_) : 0);
  detail::check(MPI_Gather(&count, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, root, handle_),
                "MPI_Gather(counts)");
  // Every buffer before any message: a root that cannot hold the shares says so to every rank,
  // which would otherwise wait in their sends.
  std::vector<std::vector<std::byte>> out;
  bool no_room = false;
  if (is_root) {
    try {
      out.resize(static_cast<std::size_t>(size_));
      for (std::size_t r = 0; r < out.size(); ++r) {
        if (static_cast<int>(r) != root) out[r].resize(counts[r]);
      }
    } catch (const std::bad_alloc&) {
      no_room = true;
      out.clear();
    }
  }
  if (any(no_room)) {
    throw ClusterError("gather: rank " + std::to_string(root) + " has no memory for every rank's share");
  }
  const auto piece = [&](std::uint64_t size, std::uint64_t at) {
    return static_cast<int>(std::min(kSharePiece, size - at));
  };
  if (!is_root) {
    for (std::uint64_t at = 0; at < count; at += kSharePiece) {
      detail::check(MPI_Send(sent.data() + at, piece(count, at), MPI_BYTE, root, kShareTag, handle_),
                    "MPI_Send(gather)");
    }
    return {};
  }
  out[static_cast<std::size_t>(root)] = std::move(own);
  std::vector<MPI_Request> requests;
  std::size_t pieces = 0;
  for (const auto c : counts) pieces += (c + kSharePiece - 1) / kSharePiece;
  requests.reserve(pieces);  // no allocation between posting a receive and keeping its request
  // A receive that cannot be posted leaves none pending behind it into buffers the error frees.
  const auto drop_posted = [&] {
    for (auto& request : requests) {
      (void)MPI_Cancel(&request);
      (void)MPI_Request_free(&request);
    }
  };
  for (std::size_t r = 0; r < out.size(); ++r) {
    if (static_cast<int>(r) == root) continue;
    for (std::uint64_t at = 0; at < counts[r]; at += kSharePiece) {
      MPI_Request request = MPI_REQUEST_NULL;
      const int rc = MPI_Irecv(out[r].data() + at, piece(counts[r], at), MPI_BYTE, static_cast<int>(r), kShareTag,
                               handle_, &request);
      if (rc != MPI_SUCCESS) {
        drop_posted();
        detail::check(rc, "MPI_Irecv(gather)");
      }
      requests.push_back(request);
    }
  }
  detail::check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE),
                "MPI_Waitall(gather)");
  return out;
}

std::vector<std::byte> Communicator::broadcast(std::span<const std::byte> bytes, int root) const {
  std::vector<std::byte> out(bytes.begin(), bytes.end());
  if (serial_) return out;
  std::uint64_t n = out.size();
  detail::check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, handle_), "MPI_Bcast(size)");
  out.resize(n);
  detail::check(MPI_Bcast(out.data(), checked_count(n), MPI_BYTE, root, handle_), "MPI_Bcast");
  return out;
}

}  // namespace lineage::cluster
