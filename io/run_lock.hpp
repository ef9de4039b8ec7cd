#pragma once
/// @file run_lock.hpp
/// The writer lock of a result store: an exclusive flock(2) on `STORE.lock` beside the store,
/// held for a whole run (store and journal). The lock file holds one line naming the holder
/// (host, pid, Slurm job) so that a refused writer can say who has the store. Readers (`status`,
/// `verdict`, `merge` inputs) never take it: the store is only ever replaced by rename, so they
/// see the old file or the new one, never a torn one. The lock file stays after the run (removing
/// it would let a waiting writer lock an unlinked file); an unheld lock file means nothing.

#include <filesystem>
#include <string>

namespace lineage::io {

class RunLock {
 public:
  /// Takes the lock of `store` without waiting and writes `holder` into the lock file. Throws
  /// StoreError naming the current holder if another process holds it, or if the lock file
  /// cannot be created.
  RunLock(const std::filesystem::path& store, const std::string& holder);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  /// The lock file of `store` ("run.h5" -> "run.h5.lock").
  [[nodiscard]] static std::filesystem::path path_of(const std::filesystem::path& store);
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace lineage::io
