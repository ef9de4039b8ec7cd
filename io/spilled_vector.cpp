#include "io/spilled_vector.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <utility>

namespace lineage::io {
namespace {

std::mutex folder_mutex;
std::filesystem::path& spill_folder() {
  static std::filesystem::path folder;
  return folder;
}

std::size_t mapped_length(std::size_t bytes) noexcept {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

/// ext4 (and ext2/3, which share its magic and refuse the reservation) and XFS: see
/// spill_large_buffers_to for why only these.
bool spill_file_system(int file) noexcept {
  struct statfs fs {};
  if (::fstatfs(file, &fs) != 0) return false;
  const auto type = static_cast<std::uint32_t>(fs.f_type);
  return type == 0xEF53U /* ext4 */ || type == 0x58465342U /* XFS */;
}

/// A quarter of the space left at most: the store's write and the journals still find room.
bool leaves_room(int file, std::size_t length) noexcept {
  struct statvfs fs {};
  if (::fstatvfs(file, &fs) != 0) return false;
  const auto available = static_cast<long double>(fs.f_bavail) * static_cast<long double>(fs.f_frsize);
  return static_cast<long double>(length) <= available / 4;
}

/// Under the process's file size limit (ulimit -f): past it a reservation does not only fail,
/// the kernel also sends SIGXFSZ, which ends the process.
bool under_file_size_limit(std::size_t length) noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0) return false;
  return limit.rlim_cur == RLIM_INFINITY || length <= limit.rlim_cur;
}

/// A new file in `folder` without a name (O_TMPFILE): the kernel frees its blocks when the last
/// mapping goes, even after a kill. -1 when the folder cannot have one or is no spill file system.
int spill_file(const std::filesystem::path& folder) noexcept {
  const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 && !spill_file_system(fd)) {
    (void)::close(fd);
    return -1;
  }
  return fd;
}

/// `length` bytes of a new unnamed file in `folder`, its blocks reserved first, mapped shared;
/// nullptr when the folder cannot give them. Not populated: a vector's capacity past its size is
/// never touched, and stays neither memory nor written-back page cache.
void* map_spilled(const std::filesystem::path& folder, std::size_t length) noexcept {
  if (!under_file_size_limit(length)) return nullptr;
  const int fd = spill_file(folder);
  if (fd < 0) return nullptr;
  void* data = nullptr;
  if (leaves_room(fd, length) && ::fallocate(fd, 0, 0, static_cast<off_t>(length)) == 0) {
    data = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) data = nullptr;
  }
  (void)::close(fd);  // the mapping keeps the file
  return data;
}

}  // namespace

bool can_spill_into(const std::filesystem::path& folder) noexcept {
  const int fd = spill_file(folder);
  if (fd < 0) return false;
  (void)::close(fd);
  return true;
}

std::filesystem::path spill_large_buffers_to(std::filesystem::path folder) {
  const std::lock_guard lock(folder_mutex);
  return std::exchange(spill_folder(), std::move(folder));
}

void* allocate_spillable_array(std::size_t count, std::size_t size) {
  if (size != 0 && count > std::numeric_limits<std::size_t>::max() / size) throw std::bad_array_new_length();
  return allocate_spillable(count * size);
}

void* allocate_spillable(std::size_t bytes) {
  if (bytes < kSpillMinimumBytes) return ::operator new(bytes);
  const auto length = mapped_length(bytes);
  std::filesystem::path folder;
  {
    const std::lock_guard lock(folder_mutex);
    folder = spill_folder();
  }
  if (!folder.empty()) {
    if (void* data = map_spilled(folder, length)) return data;
  }
  void* data = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
  return data;
}

void deallocate_spillable(void* data, std::size_t bytes) noexcept {
  if (data == nullptr) return;
  if (bytes < kSpillMinimumBytes) {
    ::operator delete(data);
    return;
  }
  (void)::munmap(data, mapped_length(bytes));
}

}  // namespace lineage::io
