#pragma once
/// @file yaml_reader.hpp
/// The one reader of lineage's YAML files (family files, run files, catalogue entries): loading
/// with the file and line in the error, errors that name "FILE:key.path", and the check that a
/// mapping holds only known keys (STYLE §10: a key nobody reads is an error, not a silent typo).

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace lineage::io::detail {

class YamlReader {
 public:
  explicit YamlReader(std::filesystem::path file) : file_(std::move(file)) {}

  /// Loads the file. Unreadable: ConfigError(FILE, `cannot_read`); malformed:
  /// ConfigError(FILE:LINE, "malformed YAML: ...").
  [[nodiscard]] YAML::Node load(const std::string& cannot_read) const;

  /// ConfigError("FILE:key_path", reason).
  [[nodiscard]] ConfigError error(const std::string& key_path, const std::string& reason) const;

  /// "where.key", or "key" at the top level (where empty).
  [[nodiscard]] static std::string join(const std::string& where, const std::string& key);

  /// Throws unless `node` is a mapping whose keys are names listed in `known`:
  /// "FILE:where: must be a mapping", "FILE:where: has a key that is not a name", or
  /// "FILE:where.key: unknown key (known: a, b)" with `known` in the order given. An empty
  /// `where` (the top level) is named `top_level` in the first two.
  void reject_unknown_keys(const YAML::Node& node, const std::string& where, const std::vector<std::string>& known,
                           const std::string& top_level = "(top level)") const;

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace lineage::io::detail
