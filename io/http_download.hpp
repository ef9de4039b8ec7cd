#pragma once
/// @file http_download.hpp
/// Downloads one remote file to a local path, never half-written under its final name: bytes go
/// to `<path>.part`, a rerun resumes from that file's size with a Range request, and only a
/// complete file whose size (and SHA-256, when known) checks out is renamed into place.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace lineage::io {

class HttpClient;

struct DownloadTarget {
  std::string url;
  std::filesystem::path path;         ///< final name; the partial file is path + ".part"
  std::optional<std::uint64_t> size;  ///< expected size (from the safetensors header)
  std::optional<std::string> sha256;  ///< expected digest (a sidecar); else a 64-hex ETag is used
};

struct DownloadResult {
  std::uint64_t size = 0;
  std::uint64_t received = 0;     ///< body bytes received by this call
  std::uint64_t resumed_at = 0;   ///< size of the partial file the download continued from
  bool already_complete = false;  ///< the final file was there with the expected size
  std::string sha256_checked;     ///< the digest verified, empty when none was published
};

/// Suffix of partial downloads.
inline constexpr const char* kPartSuffix = ".part";

/// Retries transport failures, 408, 429 and 5xx with backoff up to the client's max_attempts.
/// Throws InputError (naming the URL) when the server's size disagrees with `size`, the body is
/// longer or shorter than announced, the digest differs (the partial file is then removed),
/// or the server refuses the file.
DownloadResult download_file(HttpClient& client, const DownloadTarget& target);

}  // namespace lineage::io
