#include "pipeline/data_dirs.hpp"

#include <optional>
#include <system_error>

#include "pipeline/environment.hpp"

namespace lineage::pipeline {
namespace {

/// The running binary's folder (Linux: /proc/self/exe), empty when it cannot be read.
std::filesystem::path binary_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

std::filesystem::path source_tree_dir(DataFolder f) {
  std::filesystem::path root(LINEAGE_SOURCE_TREE);
  switch (f) {
    case DataFolder::families:
      return root / "families";
    case DataFolder::catalog:
      return root / "catalog";
    case DataFolder::slurm_templates:
      return root / "slurm";
    case DataFolder::synth_styles:
      return root / "tools" / "synth" / "styles";
  }
  return root;
}

std::optional<std::string> from_environment(DataFolder f) {
  const auto& env = environment();
  switch (f) {
    case DataFolder::families:
      return env.families_dir;
    case DataFolder::catalog:
      return env.catalog_dir;
    case DataFolder::slurm_templates:
      return env.slurm_templates;
    case DataFolder::synth_styles:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(DataFolder f) noexcept {
  switch (f) {
    case DataFolder::families:
      return "families";
    case DataFolder::catalog:
      return "catalog";
    case DataFolder::slurm_templates:
      return "slurm";
    case DataFolder::synth_styles:
      return "synth-styles";
  }
  return "?";
}

DataDir find_data_dir(DataFolder f) {
  if (auto env = from_environment(f)) return {*env, "environment"};
  // <prefix>/bin/lineage -> <prefix>/share/lineage/<folder>
  if (const auto bin = binary_dir(); !bin.empty()) {
    const auto installed = bin.parent_path() / "share" / "lineage" / to_string(f);
    std::error_code ec;
    if (std::filesystem::is_directory(installed, ec)) return {installed, "installed"};
  }
  return {source_tree_dir(f), "source tree"};
}

}  // namespace lineage::pipeline
