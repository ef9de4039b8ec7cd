#pragma once
/// @file catalog_file.hpp
/// The catalogue of known public architectures (catalog/*.yaml, one file per model): the config
/// values that matter, where they come from, and which of them could not be confirmed.
///
///     model: moonshotai/Kimi-K2-Instruct
///     source: "huggingface.co/moonshotai/Kimi-K2-Instruct config.json (copy in shared/data/real)"
///     confirmed: true            # false: some values are from memory or secondary sources
///     unconfirmed: [vocab_size]  # the keys in doubt (never compared as facts)
///     sources: {vocab_size: "seed 003 §3 table"}   # optional: a key's own source when it is not `source`
///     config: {model_type: kimi_k2, hidden_size: 7168, ...}   # config.json spelling

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lineage::io {

// nlohmann::json's implicit destructor and moves do not throw; clang-tidy 14 cannot see through
// its assertions.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct CatalogEntry {
  std::string file;
  std::string model;
  std::string source;
  bool confirmed = false;
  std::vector<std::string> unconfirmed;
  std::string notes;
  std::map<std::string, std::string> sources;  ///< per-key source where it differs from `source`
  nlohmann::json config;                       ///< config.json subset, same spelling and nesting
};

[[nodiscard]] CatalogEntry read_catalog_entry(const std::filesystem::path& path);
/// Every *.yaml in `dir`, sorted by file name; a missing folder or an empty one is a ConfigError.
[[nodiscard]] std::vector<CatalogEntry> load_catalog(const std::filesystem::path& dir);

/// Leaves out every entry whose `model` is one of `models` (a disputed model's own entry would rank
/// first against its own values). A name no entry has, or nothing left, is a UsageError (a typo
/// must not silently keep the entry in the ranking).
void exclude_models(std::vector<CatalogEntry>& entries, const std::vector<std::string>& models);

}  // namespace lineage::io
