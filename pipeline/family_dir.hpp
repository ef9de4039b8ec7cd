#pragma once
/// @file family_dir.hpp
/// Where the built-in family files are: $LINEAGE_FAMILIES if set (read here, at the CLI
/// boundary, never inside io/), else the families/ folder of the source tree this binary was
/// built from.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lineage::pipeline {

inline std::filesystem::path default_families_dir() {
  if (const char* env = std::getenv("LINEAGE_FAMILIES")) return env;
  return LINEAGE_FAMILIES_DIR;
}

/// The family folder of a run: its own `families_dir`, else the default.
inline std::filesystem::path families_dir_of(const std::string& run_families_dir) {
  return run_families_dir.empty() ? default_families_dir() : std::filesystem::path(run_families_dir);
}

/// The catalogue of public architectures: $LINEAGE_CATALOG if set, else catalog/ of the source tree.
inline std::filesystem::path default_catalog_dir() {
  if (const char* env = std::getenv("LINEAGE_CATALOG")) return env;
  return LINEAGE_CATALOG_DIR;
}

/// The sbatch templates: $LINEAGE_SLURM_TEMPLATES if set, else slurm/ of the source tree.
inline std::filesystem::path default_slurm_template_dir() {
  if (const char* env = std::getenv("LINEAGE_SLURM_TEMPLATES")) return env;
  return LINEAGE_SLURM_DIR;
}

}  // namespace lineage::pipeline
