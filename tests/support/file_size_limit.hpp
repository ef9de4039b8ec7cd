#pragma once
/// @file file_size_limit.hpp
/// A full disk, for one test: while a FileSizeLimit lives, no file this process writes may grow
/// past its bytes (RLIMIT_FSIZE), so a write or block reservation past them fails with EFBIG as
/// one on a full disk fails with ENOSPC. SIGXFSZ, which would end the process, is ignored meanwhile.

#include <sys/resource.h>

#include <csignal>
#include <cstddef>
#include <stdexcept>

namespace lineage::testing {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(std::size_t bytes) {
    if (::getrlimit(RLIMIT_FSIZE, &before_) != 0) throw std::runtime_error("getrlimit(RLIMIT_FSIZE) failed");
    signal_before_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = before_;
    limit.rlim_cur = bytes;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
  }
  ~FileSizeLimit() {
    (void)::setrlimit(RLIMIT_FSIZE, &before_);
    (void)std::signal(SIGXFSZ, signal_before_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit before_{};
  void (*signal_before_)(int) = SIG_DFL;
};

}  // namespace lineage::testing
