#pragma once
/// @file safetensors_file.hpp
/// A safetensors file opened for reading tensor data through a read-only mmap. Pages are
/// faulted in lazily; stream with sequential access (madvise) rather than copying tensors.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

#include "io/safetensors_header.hpp"

namespace lineage::io {

class SafetensorsFile {
 public:
  /// Validates the header (see read_safetensors_header) and maps the file. Only the path and the
  /// size are kept: read_safetensors_header gives the tensor list.
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// The stored bytes of one tensor of this file's header (read_safetensors_header), checked as
  /// range() checks them: the entry is not this object's own.
  [[nodiscard]] std::span<const std::byte> bytes(const SafetensorsEntry& e) const;
  /// The bytes [begin, end) at absolute file offsets, validated against the header's file size
  /// and against the file's current length (a file truncated while mapped is an InputError, not
  /// a SIGBUS on access; a truncation after this check is caught by the compare's SIGBUS guard).
  [[nodiscard]] std::span<const std::byte> range(std::uint64_t begin, std::uint64_t end) const;

  /// Copies the bytes [begin, end) into `buffer` by pread and returns them (the same checks as
  /// range()). Reading page-cache bytes this way needs no page-table update per page, which some
  /// virtual machines make costly (docs/benchmarks.md: 2.9x faster than mapping on one). For
  /// whole ranges; rows read sparsely (a baseline's samples) stay with the mapping.
  [[nodiscard]] std::span<const std::byte> read(std::uint64_t begin, std::uint64_t end,
                                                std::unique_ptr<std::byte[]>& buffer, std::size_t& capacity) const;

  /// Copies the bytes [begin, end) into `out` (end - begin bytes) by pread, checked against the
  /// header's file size only: for many small reads (a sketch's rows) where read()'s fstat per
  /// call would cost more than the read. A file cut shorter still fails (the read comes up short:
  /// InputError "truncated while being read").
  void read_into(std::uint64_t begin, std::uint64_t end, std::byte* out) const;

  /// Maps the pages of [begin, end) before they are read: read-ahead from disk
  /// (MADV_WILLNEED) and page-table entries in one call (MADV_POPULATE_READ), instead of one
  /// page fault per 4 kB page (about 8x slower from the page cache, docs/benchmarks.md). Best
  /// effort: a failure leaves the pages to be faulted in on access.
  void prefetch(std::uint64_t begin, std::uint64_t end) const noexcept;
  /// Unmaps the pages of [begin, end) once read (MADV_DONTNEED; they stay in the page cache), so
  /// the resident set does not grow with the model. Pages shared with a neighbouring range are
  /// simply faulted in again if read.
  void release(std::uint64_t begin, std::uint64_t end) const noexcept;

 private:
  std::filesystem::path path_;
  const std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;  ///< kept open to check the file's length before each range is handed out
};

}  // namespace lineage::io
