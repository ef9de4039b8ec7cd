#pragma once
/// @file run_file.hpp
/// Reads a YAML run file into RunConfig. Unknown keys, wrong types and missing required keys are
/// ConfigErrors naming the file and the key path ("run.yaml:slurm.nodes"). Relative model paths
/// are resolved against the run file's folder.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/run_config.hpp"

namespace lineage::io {

[[nodiscard]] RunConfig read_run_file(const std::filesystem::path& path);

/// One model of a dispute as published: where to get it and what it should weigh.
struct CaseModel {
  std::string repo;                                ///< Hugging Face repo id, e.g. "moonshotai/Kimi-K2-Instruct"
  std::string revision;                            ///< branch, tag or commit to pin (a commit hash pins it)
  std::optional<std::uint64_t> expected_bytes;     ///< the weight map's total_size, when known
  std::optional<double> expected_params_billions;  ///< as published or as the seeds state it
  std::string note;                                ///< why this model is in the case
};

/// The optional `case:` section of a run file: a dispute ready to reopen (cases/*/run.yaml).
/// Neither compare nor submit needs it; plan prints it beside the plan.
struct CaseInfo {
  std::string name;
  std::string claim;
  std::vector<std::string> questions;
  CaseModel suspect;
  std::vector<CaseModel> parents;   ///< same order as the run's parents
  std::vector<CaseModel> controls;  ///< same order as the run's controls
};

/// The run file's `case:` section (nullopt without one); same checks as read_run_file.
[[nodiscard]] std::optional<CaseInfo> read_case(const std::filesystem::path& path);

}  // namespace lineage::io
