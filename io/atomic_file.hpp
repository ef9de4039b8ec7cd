#pragma once
/// @file atomic_file.hpp
/// Writes that never leave a half-written file: data goes to a temporary file in the same
/// folder, which commit() fsyncs and renames over the target. Destroyed uncommitted, the
/// temporary file is removed.

#include <cstdio>
#include <filesystem>
#include <span>
#include <string_view>

namespace lineage::io {

class AtomicFile {
 public:
  /// Creates the temporary file next to `target`. Throws InputError if the folder is not writable.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text);
  /// fsync + rename onto the target. After commit the object is inert.
  void commit();
  [[nodiscard]] const std::filesystem::path& target() const noexcept { return target_; }

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
};

/// Writes `text` to `path` atomically.
void write_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace lineage::io
