#pragma once
/// @file model_source.hpp
/// Where a checkpoint's files come from: a local folder or a remote folder read over HTTP(S)
/// with range requests. Everything that reads a model folder (the index, config.json, shard
/// headers) goes through one ModelSource, so inventory, arch and plan read a 1 TB remote model
/// by its headers without downloading it.
///
/// Model locations (docs/cli.md "Remote models"):
///   - a folder path;
///   - `https://HOST/PATH` or `http://HOST/PATH`: a folder URL, file names are appended after '/';
///   - `hf://ORG/NAME[@REVISION]`: `ENDPOINT/ORG/NAME/resolve/REVISION/` (REVISION defaults to
///     `main`; ENDPOINT comes from RemoteOptions, never from the environment here).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace lineage::io {

/// Settings of remote reads, filled by pipeline/ from the environment.
struct RemoteOptions {
  std::string hf_endpoint = "https://huggingface.co";  ///< for hf:// locations
  std::optional<std::string> token;                    ///< sent as "Authorization: Bearer"; never printed
  int max_attempts = 5;                                ///< per request, with exponential backoff
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  ///< abort a transfer that moves no byte for this long
};

/// True for `http://`, `https://` and `hf://` locations.
[[nodiscard]] bool is_remote_location(const std::string& location);

/// The base URL (ending in '/') of a remote location. Throws InputError for a malformed one.
[[nodiscard]] std::string remote_base_url(const std::string& location, const RemoteOptions& options);

/// The files of one model folder, local or remote.
class ModelSource {
 public:
  virtual ~ModelSource() = default;
  /// The location as given (folder path or URL), for messages and listings.
  [[nodiscard]] virtual const std::string& location() const noexcept = 0;
  /// Where one file of the model is (path or URL), for messages.
  [[nodiscard]] virtual std::string where(const std::string& file) const = 0;
  [[nodiscard]] virtual bool is_remote() const noexcept = 0;
  /// Throws InputError when the model folder itself is unusable (not a folder, bad URL).
  virtual void check_folder() = 0;
  /// Whether `file` exists in the model folder (locally a dangling symlink exists: reading it
  /// fails, it is not silently absent).
  [[nodiscard]] virtual bool exists(const std::string& file) = 0;
  /// The whole file, or nullopt when it does not exist. For small files (JSON): at most
  /// kMaxJsonFileBytes (io/json_text.hpp). Locally only a regular file is read (a FIFO or
  /// device is refused, not waited on).
  [[nodiscard]] virtual std::optional<std::string> read_file(const std::string& file) = 0;
  /// Bytes [offset, offset + length) of `file`; nullopt when the file does not exist. Fewer
  /// bytes are returned only at the end of the file. `total_size` receives the file's size.
  [[nodiscard]] virtual std::optional<std::string> read_range(const std::string& file, std::uint64_t offset,
                                                              std::uint64_t length, std::uint64_t& total_size) = 0;
  /// Throws InputError(named_by, ...) when `file` (a name from the index, say) would read
  /// outside the model folder: empty, absolute, a ".." part, a NUL byte, or, for a local folder,
  /// a symlink resolving elsewhere than the folder or its Hugging Face cache blobs
  /// (io/model_folder.hpp). read_file and read_range check every name they are given the same
  /// way (reported by the folder); this names the file that named it.
  virtual void check_name(const std::string& file, const std::string& named_by) const = 0;
  /// Bytes received over the network so far (0 for a local folder).
  [[nodiscard]] virtual std::uint64_t bytes_transferred() const noexcept { return 0; }
};

/// A folder on the local file system.
[[nodiscard]] std::unique_ptr<ModelSource> open_local_model(const std::filesystem::path& dir);

/// A local folder, or a remote one for http(s):// and hf:// locations.
[[nodiscard]] std::unique_ptr<ModelSource> open_model(const std::string& location, const RemoteOptions& options = {});

/// True when a relative file name stays inside its folder lexically (not empty, not absolute,
/// no `..` part, no NUL byte).
[[nodiscard]] bool is_plain_relative_name(const std::string& file);

}  // namespace lineage::io
