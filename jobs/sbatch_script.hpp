#pragma once
/// @file sbatch_script.hpp
/// sbatch scripts for a run, from the templates in slurm/: one job for one pair, or a job array
/// (one task per pair, each with its own store) plus an aggregation job that merges the stores.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/run_config.hpp"

namespace lineage::jobs {

struct SubmitOptions {
  std::string lineage_binary;          ///< absolute path of the lineage executable
  std::filesystem::path template_dir;  ///< slurm/ (compare.sbatch.in, aggregate.sbatch.in)
  /// srun (PMIx) or mpirun, inside the allocation; mpirun means lineage-mpirun beside the binary
  std::string launcher = "srun";
};

/// lineage-mpirun beside `lineage_binary` (installed together, and copied together into the build
/// folder): mpirun that turns SIGTERM/SIGINT into the SIGUSR1 on which ranks checkpoint (exit 7).
[[nodiscard]] std::filesystem::path mpirun_launcher_of(const std::string& lineage_binary);

struct SubmitPlan {
  std::size_t pairs = 0;
  std::vector<std::string> stores;              ///< the stores the compare job(s) write
  std::string compare_script;                   ///< a job array when pairs > 1
  std::optional<std::string> aggregate_script;  ///< merge + verdict, after the array
};

/// Replaces every {{name}} in `text`; a placeholder without a value is a ConfigError naming `where`.
[[nodiscard]] std::string render_template(const std::string& text, const std::map<std::string, std::string>& values,
                                          const std::string& where);

/// The per-pair store of array task `i`: run.h5 -> run.pair0.h5.
[[nodiscard]] std::string pair_store(const std::string& out, std::size_t i);

/// @param[in] run_file  absolute path of the run file the jobs read
[[nodiscard]] SubmitPlan make_submit_plan(const RunConfig& cfg, const std::string& run_file,
                                          const SubmitOptions& options);

/// Shell-quotes one word ('...' with embedded quotes escaped) when it needs it.
[[nodiscard]] std::string shell_quote(const std::string& word);

}  // namespace lineage::jobs
