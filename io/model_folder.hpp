#pragma once
/// @file model_folder.hpp
/// A model folder is data from a stranger: every file lineage reads from it resolves here. A
/// name must stay inside the folder after following symlinks, with one exception, the Hugging
/// Face cache layout (`<repo>/snapshots/<rev>/<file>` linking to `<repo>/blobs/<hash>` of the
/// same cache repo). Only regular files are read: a FIFO or a device would block or never end.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace lineage::io {

/// The real path of `name` inside model folder `dir`. Throws InputError naming `reported_by`
/// (the file that named it: the index, or the folder) when `name` is absolute, climbs with
/// "..", or resolves outside the folder other than into the cache's blobs.
[[nodiscard]] std::filesystem::path resolve_in_model_folder(const std::filesystem::path& dir, const std::string& name,
                                                            const std::filesystem::path& reported_by);

/// Throws InputError(path, ...) unless `path` is a regular file (after symlinks).
void require_regular_file(const std::filesystem::path& path);

/// Opens `path` for reading without blocking on a FIFO and refuses anything but a regular file.
/// Returns the descriptor (the caller closes it) and its size.
int open_regular_file(const std::filesystem::path& path, std::uint64_t& size);

/// A regular file open for reading (open_regular_file: a FIFO or device is refused, not waited
/// on), closed when this goes.
class RegularFile {
 public:
  explicit RegularFile(const std::filesystem::path& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// The file's size when it was opened.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  /// Reads up to `count` bytes at `offset` into `out`: fewer only where the file ends (it may have
  /// shrunk since it was opened). Interrupted reads are retried; a failed one throws InputError
  /// naming the file and the offset.
  std::size_t read_at(void* out, std::size_t count, std::uint64_t offset) const;

 private:
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
  int fd_ = -1;
};

/// Reads a whole regular file of at most `max_bytes` (the one whole-file reader of lineage: model
/// files, templates). Throws InputError naming the file otherwise.
[[nodiscard]] std::string read_regular_file(const std::filesystem::path& path,
                                            std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max());

}  // namespace lineage::io
