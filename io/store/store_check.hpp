#pragma once
/// @file store_check.hpp
/// `lineage check RUN.h5`: everything a store's reader can verify about it, as findings rather
/// than the first error: the schema (read_result_store's structural checks, which throw), the
/// run's completeness, every per-row checksum (schema >= 2) and, where the model folders are
/// present, the input fingerprints against the files as they are now.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lineage::io {

struct StoreCheck {
  std::int64_t schema_version = 0;
  std::size_t units = 0;
  std::size_t results = 0;
  std::size_t superseded = 0;  ///< units judged through their confirmed matched units instead
  bool complete = false;
  bool has_checksums = false;
  std::size_t bad_units = 0;  ///< units whose /units/row_xxh3 does not match
  std::size_t bad_rows = 0;   ///< result rows whose /results/row_xxh3 does not match
  struct Model {
    std::string label;
    std::string path;     ///< the folder checked (stored path or the one given)
    std::string outcome;  ///< "matches", "changed: ...", "not present"
    bool ok = true;
  };
  std::vector<Model> models;
  std::vector<std::string> problems;  ///< one line each; empty when the store checks out
};

/// @param[in] model_dirs  folders to check the fingerprints against, in the store's input order
///                        (suspect first); empty: the stored paths, where they exist
/// Throws StoreError when the file is not a readable store of a known schema version.
[[nodiscard]] StoreCheck check_result_store(const std::filesystem::path& path,
                                            const std::vector<std::filesystem::path>& model_dirs);

}  // namespace lineage::io
