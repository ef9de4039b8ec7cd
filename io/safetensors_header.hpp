#pragma once
/// @file safetensors_header.hpp
/// The parsed and validated header of one safetensors file. Validation is strict (see
/// parse_safetensors_header): every problem is an InputError naming file, tensor and byte offset.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.hpp"

namespace lineage::io {

struct SafetensorsEntry {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::uint64_t> shape;
  std::uint64_t data_begin = 0;  ///< absolute file offset
  std::uint64_t data_end = 0;    ///< absolute file offset, one past the end
  [[nodiscard]] std::uint64_t elements() const noexcept;
  [[nodiscard]] std::uint64_t bytes() const noexcept { return data_end - data_begin; }
};

struct SafetensorsHeader {
  std::filesystem::path path;
  std::uint64_t file_size = 0;
  std::uint64_t header_length = 0;  ///< N, the JSON length; data start at 8 + N
  std::uint64_t header_hash = 0;    ///< xxh3-64 of the JSON bytes (input fingerprint)
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsEntry> tensors;  ///< in file (offset) order
  [[nodiscard]] const SafetensorsEntry* find(std::string_view name) const noexcept;
};

/// Largest header accepted (real headers of 100k-tensor shards are a few MB).
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100ull << 20;

/// Validates the JSON header bytes of a file of `file_size` bytes.
[[nodiscard]] SafetensorsHeader parse_safetensors_header(const std::filesystem::path& path, std::string_view json,
                                                         std::uint64_t file_size);

/// Reads only the 8-byte length and the JSON header (pread), never the tensor data.
[[nodiscard]] SafetensorsHeader read_safetensors_header(const std::filesystem::path& path);

class ModelSource;

/// The same for `file` of a model folder, local or remote: two range reads (the 8-byte length,
/// then the JSON header). `path` of the result is source.where(file). nullopt if the file does
/// not exist.
[[nodiscard]] std::optional<SafetensorsHeader> read_safetensors_header(ModelSource& source, const std::string& file);

/// The file size a header implies: the end of its last tensor's data (8 + N when it has none).
[[nodiscard]] std::uint64_t implied_file_size(const SafetensorsHeader& header) noexcept;

}  // namespace lineage::io
