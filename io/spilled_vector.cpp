#include "io/spilled_vector.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <mutex>
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

/// A new file in `folder` with no name (O_TMPFILE), or, where the file system has none, one
/// unlinked at once: the kernel frees its blocks when the last mapping goes, even after a kill.
int unnamed_file(const std::filesystem::path& folder) noexcept {
  const int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string name = (folder / ".lineage-spill-XXXXXX").string();
  const int named = ::mkostemp(name.data(), O_CLOEXEC);
  if (named >= 0) (void)::unlink(name.c_str());
  return named;
}

/// `length` bytes of a new unnamed file in `folder`, its blocks reserved first, mapped shared;
/// nullptr when the folder cannot give them. Not populated: a vector's capacity past its size is
/// never touched, and stays neither memory nor written-back page cache.
void* map_spilled(const std::filesystem::path& folder, std::size_t length) noexcept {
  const int fd = unnamed_file(folder);
  if (fd < 0) return nullptr;
  void* data = nullptr;
  if (reserves_blocks(fd) && ::fallocate(fd, 0, 0, static_cast<off_t>(length)) == 0) {
    data = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) data = nullptr;
  }
  (void)::close(fd);  // the mapping keeps the file
  return data;
}

}  // namespace

bool reserves_blocks(int file) noexcept {
  struct statfs fs {};
  if (::fstatfs(file, &fs) != 0) return false;
  constexpr std::array<std::uint32_t, 3> copy_on_write{0x9123683eU /* btrfs */, 0x2fc12fc1U /* zfs */,
                                                       0xca451a4eU /* bcachefs */};
  if (std::find(copy_on_write.begin(), copy_on_write.end(), static_cast<std::uint32_t>(fs.f_type)) !=
      copy_on_write.end()) {
    return false;
  }
  return ::fallocate(file, 0, 0, 4096) == 0;
}

std::filesystem::path spill_large_buffers_to(std::filesystem::path folder) {
  const std::lock_guard lock(folder_mutex);
  return std::exchange(spill_folder(), std::move(folder));
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
