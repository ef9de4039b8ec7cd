#pragma once
/// @file family_dir.hpp
/// Where the built-in family files are: $LINEAGE_FAMILIES if set (pipeline/environment.hpp),
/// else the families/ folder of the source tree this binary was built from.

#include <filesystem>
#include <string>

#include "pipeline/environment.hpp"

namespace lineage::pipeline {

inline std::filesystem::path default_families_dir() {
  if (environment().families_dir) return *environment().families_dir;
  return LINEAGE_FAMILIES_DIR;
}

/// The family folder of a run: its own `families_dir`, else the default.
inline std::filesystem::path families_dir_of(const std::string& run_families_dir) {
  return run_families_dir.empty() ? default_families_dir() : std::filesystem::path(run_families_dir);
}

/// The catalogue of public architectures: $LINEAGE_CATALOG if set, else catalog/ of the source tree.
inline std::filesystem::path default_catalog_dir() {
  if (environment().catalog_dir) return *environment().catalog_dir;
  return LINEAGE_CATALOG_DIR;
}

/// The sbatch templates: $LINEAGE_SLURM_TEMPLATES if set, else slurm/ of the source tree.
inline std::filesystem::path default_slurm_template_dir() {
  if (environment().slurm_templates) return *environment().slurm_templates;
  return LINEAGE_SLURM_DIR;
}

}  // namespace lineage::pipeline
