#include "io/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "core/errors.hpp"

namespace lineage::io {
namespace {

/// The holder line of a lock file (first line, at most 512 bytes, control characters dropped).
std::string read_holder(int fd) {
  char buf[512];
  const auto n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return {};
  std::string s;
  for (ssize_t i = 0; i < n && buf[i] != '\n'; ++i) {
    if (static_cast<unsigned char>(buf[i]) >= 0x20 && buf[i] != 0x7f) s += buf[i];
  }
  return s;
}

}  // namespace

std::filesystem::path RunLock::path_of(const std::filesystem::path& store) { return store.string() + ".lock"; }

RunLock::RunLock(const std::filesystem::path& store, const std::string& holder) : path_(path_of(store)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    const int err = errno;
    const auto folder = store.has_parent_path() ? store.parent_path() : std::filesystem::path(".");
    if (err == ENOENT) throw StoreError(store.string() + ": the folder " + folder.string() + " does not exist");
    throw StoreError(store.string() + ": cannot create the lock file " + path_.string() + ": " + std::strerror(err));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const auto who = read_holder(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw StoreError(store.string() + ": another run is writing this store (lock " + path_.string() + " held by " +
                       (who.empty() ? std::string("an unknown process") : who) +
                       "); wait for it to end or choose another --out");
    }
    throw StoreError(store.string() + ": cannot lock " + path_.string() + ": " + std::strerror(err));
  }
  // Ours now: record who holds it (best effort; the lock itself is the flock, not the text).
  const std::string line = holder + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    std::cerr << "lineage: warning: cannot record the holder in " << path_ << ": " << std::strerror(errno) << "\n";
  }
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Forget the holder before letting go, so the next refusal never names a finished run.
  if (::ftruncate(fd_, 0) != 0) std::cerr << "lineage: warning: cannot clear " << path_ << "\n";
  ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace lineage::io
