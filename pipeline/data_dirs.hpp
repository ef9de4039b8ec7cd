#pragma once
/// @file data_dirs.hpp
/// Where lineage's data folders are (families, catalogue, sbatch templates, synth styles), so
/// that a binary copied to a cluster or installed with `cmake --install` finds them:
///   1. the environment variable, where there is one ($LINEAGE_FAMILIES, $LINEAGE_CATALOG,
///      $LINEAGE_SLURM_TEMPLATES; pipeline/environment.hpp);
///   2. the installed layout beside the binary: <prefix>/share/lineage/<folder> for
///      <prefix>/bin/lineage;
///   3. the source tree the binary was built from (a build directory's binary).

#include <filesystem>
#include <string>

namespace lineage::pipeline {

enum class DataFolder { families, catalog, slurm_templates, synth_styles };

/// The folder's name under share/lineage/ (and in the docs).
[[nodiscard]] const char* to_string(DataFolder f) noexcept;

/// Where a data folder was found, and by which rule.
struct DataDir {
  std::filesystem::path path;
  std::string source;  ///< "environment", "installed" or "source tree"
};

[[nodiscard]] DataDir find_data_dir(DataFolder f);

inline std::filesystem::path default_families_dir() { return find_data_dir(DataFolder::families).path; }
inline std::filesystem::path default_catalog_dir() { return find_data_dir(DataFolder::catalog).path; }
inline std::filesystem::path default_slurm_template_dir() { return find_data_dir(DataFolder::slurm_templates).path; }
inline std::filesystem::path default_styles_dir() { return find_data_dir(DataFolder::synth_styles).path; }

/// The family folder of a run: its own `families_dir`, else the default.
inline std::filesystem::path families_dir_of(const std::string& run_families_dir) {
  return run_families_dir.empty() ? default_families_dir() : std::filesystem::path(run_families_dir);
}

}  // namespace lineage::pipeline
