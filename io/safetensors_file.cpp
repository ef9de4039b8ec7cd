#include "io/safetensors_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "core/errors.hpp"
#include "io/model_folder.hpp"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL and the pages fault in
#endif

namespace lineage::io {
namespace {

/// [begin, end) widened to whole pages and clipped to the mapping; empty when nothing is left.
std::pair<std::uint64_t, std::uint64_t> page_span(std::uint64_t begin, std::uint64_t end, std::uint64_t size) {
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  end = std::min(end, size);
  if (begin >= end) return {0, 0};
  return {begin / page * page, std::min(size, (end + page - 1) / page * page)};
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) {
  // Validated whole, kept as its path and size: the tensor list of a deep MoE model's shard is tens
  // of thousands of entries (12 MB parsed for a 47,000-tensor shard), and a run holds every shard
  // open through its pass, reading by the offsets of its own inventory.
  {
    const auto header = read_safetensors_header(path);
    path_ = header.path;
    size_ = header.file_size;
  }
  // The mapping is only as long as the file is now: a file replaced or cut since its header was
  // read is refused here rather than faulting (SIGBUS) on the first page past its end. A FIFO or
  // device is refused by open_regular_file, not waited on.
  std::uint64_t now_size = 0;
  fd_ = open_regular_file(path, now_size);
  if (now_size != size_) {
    ::close(fd_);
    throw InputError(path.string(), "the file changed (size " + std::to_string(now_size) + " bytes, header implies " +
                                        std::to_string(size_) + ") since its header was read");
  }
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (p == MAP_FAILED) {
    ::close(fd_);
    throw InputError(path.string(), std::string("mmap failed: ") + std::strerror(errno));
  }
  base_ = static_cast<const std::byte*>(p);
}

SafetensorsFile::~SafetensorsFile() {
  if (base_ && ::munmap(const_cast<std::byte*>(base_), size_) != 0) {
    std::cerr << "lineage: warning: munmap failed for " << path_ << "\n";
  }
  if (fd_ >= 0) ::close(fd_);
}

std::span<const std::byte> SafetensorsFile::bytes(const SafetensorsEntry& e) const {
  return range(e.data_begin, e.data_end);
}

std::span<const std::byte> SafetensorsFile::range(std::uint64_t begin, std::uint64_t end) const {
  if (begin > end || end > size_) {
    throw InputError(path_.string(), "byte range past the end of the file", {}, begin);
  }
  // A file truncated while mapped would fault on access: check its length now (one fstat).
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < end) {
    throw InputError(path_.string(),
                     "the file shrank to " + std::to_string(st.st_size) + " bytes while being read (was " +
                         std::to_string(size_) + "); restore it and rerun with --resume",
                     {}, begin);
  }
  return {base_ + begin, static_cast<std::size_t>(end - begin)};
}

std::span<const std::byte> SafetensorsFile::read(std::uint64_t begin, std::uint64_t end,
                                                 std::unique_ptr<std::byte[]>& buffer, std::size_t& capacity) const {
  (void)range(begin, end);  // the same checks: inside the file as it was, and as long as it is now
  const auto size = static_cast<std::size_t>(end - begin);
  if (capacity < size) {
    buffer = std::make_unique_for_overwrite<std::byte[]>(size);
    capacity = size;
  }
  read_into(begin, end, buffer.get());
  return {buffer.get(), size};
}

void SafetensorsFile::read_into(std::uint64_t begin, std::uint64_t end, std::byte* out) const {
  if (begin > end || end > size_) {
    throw InputError(path_.string(), "byte range past the end of the file", {}, begin);
  }
  const auto size = static_cast<std::size_t>(end - begin);
  for (std::size_t got = 0; got < size;) {
    const auto n = ::pread(fd_, out + got, size - got, static_cast<off_t>(begin + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(path_.string(), std::string("cannot read: ") + std::strerror(errno), {}, begin + got);
    if (n == 0) {
      throw InputError(path_.string(), "truncated while being read (restore it and rerun with --resume)", {},
                       begin + got);
    }
    got += static_cast<std::size_t>(n);
  }
}

void SafetensorsFile::prefetch(std::uint64_t begin, std::uint64_t end) const noexcept {
  const auto [b, e] = page_span(begin, end, size_);
  if (b == e) return;
  auto* p = const_cast<std::byte*>(base_) + b;
  (void)::madvise(p, e - b, MADV_WILLNEED);
  (void)::madvise(p, e - b, MADV_POPULATE_READ);
}

void SafetensorsFile::release(std::uint64_t begin, std::uint64_t end) const noexcept {
  const auto [b, e] = page_span(begin, end, size_);
  if (b == e) return;
  (void)::madvise(const_cast<std::byte*>(base_) + b, e - b, MADV_DONTNEED);
}

}  // namespace lineage::io
