#pragma once
/// @file errors.hpp
/// The typed error hierarchy. Every error carries enough context for one clear CLI line:
/// InputError names file, tensor and byte offset; ConfigError a key path. The CLI boundary
/// (pipeline/) catches lineage::Error, prints what() once and exits with the error's code.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/terminal_text.hpp"

namespace lineage {

/// Process exit codes (documented in docs/cli.md).
enum class ExitCode : int {
  ok = 0,
  internal = 1,  ///< a bug: InternalError or an unexpected exception
  usage = 2,     ///< bad command line
  input = 3,     ///< bad model files (InputError)
  config = 4,    ///< bad run file / family file / config.json key (ConfigError)
  store = 5,     ///< result store problem (StoreError)
  cluster = 6,   ///< MPI / Slurm problem (ClusterError)
};

/// Messages are made terminal-safe (core/terminal_text.hpp): they quote names from files.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(terminal_safe(message)) {}
  [[nodiscard]] virtual ExitCode exit_code() const noexcept { return ExitCode::internal; }
};

/// Bad input files. The message reads "FILE: tensor 'T' at byte N: REASON" with the parts
/// that are known.
class InputError : public Error {
 public:
  InputError(std::string file, std::string reason, std::string tensor = {},
             std::optional<std::uint64_t> offset = std::nullopt);
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] const std::string& tensor() const noexcept { return tensor_; }
  [[nodiscard]] std::optional<std::uint64_t> offset() const noexcept { return offset_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  [[nodiscard]] ExitCode exit_code() const noexcept override { return ExitCode::input; }

 private:
  std::string file_;
  std::string reason_;
  std::string tensor_;
  std::optional<std::uint64_t> offset_;
};

/// A bad configuration value: a YAML run file, a family file or a config.json key.
/// key_path reads like "families/qwen3_moe.yaml:tensors[3].shape".
class ConfigError : public Error {
 public:
  ConfigError(std::string key_path, const std::string& reason);
  [[nodiscard]] const std::string& key_path() const noexcept { return key_path_; }
  [[nodiscard]] ExitCode exit_code() const noexcept override { return ExitCode::config; }

 private:
  std::string key_path_;
};

class StoreError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const noexcept override { return ExitCode::store; }
};

class ClusterError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const noexcept override { return ExitCode::cluster; }
};

/// A broken invariant inside lineage itself (a bug, not bad input).
class InternalError : public Error {
 public:
  using Error::Error;
};

/// Bad command-line usage (unknown option, missing argument).
class UsageError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] ExitCode exit_code() const noexcept override { return ExitCode::usage; }
};

}  // namespace lineage
