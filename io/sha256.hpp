#pragma once
/// @file sha256.hpp
/// SHA-256 of a file (OpenSSL libcrypto), as lower-case hex.

#include <filesystem>
#include <string>
#include <string_view>

namespace lineage::io {

/// Streams the file; InputError naming it if it cannot be read.
[[nodiscard]] std::string sha256_file_hex(const std::filesystem::path& path);

/// Of a byte string (for tests and small files).
[[nodiscard]] std::string sha256_hex(std::string_view bytes);

}  // namespace lineage::io
