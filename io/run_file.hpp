#pragma once
/// @file run_file.hpp
/// Reads a YAML run file into RunConfig. Unknown keys, wrong types and missing required keys are
/// ConfigErrors naming the file and the key path ("run.yaml:slurm.nodes"). Relative model paths
/// are resolved against the run file's folder.

#include <filesystem>

#include "core/run_config.hpp"

namespace lineage::io {

[[nodiscard]] RunConfig read_run_file(const std::filesystem::path& path);

}  // namespace lineage::io
