#pragma once
/// @file environment.hpp
/// Every environment variable lineage reads, read in one place (docs/cli.md "Environment" lists
/// them): at the CLI boundary, never inside io/ or stages/.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "io/model_source.hpp"

namespace lineage::pipeline {

struct Environment {
  std::optional<std::string> families_dir;     ///< LINEAGE_FAMILIES
  std::optional<std::string> catalog_dir;      ///< LINEAGE_CATALOG
  std::optional<std::string> slurm_templates;  ///< LINEAGE_SLURM_TEMPLATES
  std::optional<std::string> slurm_job_id;     ///< SLURM_JOB_ID (set by Slurm in a job)
  /// LINEAGE_TEST_UNIT_DELAY_MS: testing aid for jobs written by `lineage submit`.
  std::optional<std::uint32_t> test_unit_delay_ms;
  std::optional<std::string> hf_endpoint;  ///< LINEAGE_HF_ENDPOINT: where hf:// locations resolve
  std::optional<std::string> hf_token;     ///< HF_TOKEN: sent as a bearer token, never printed
  /// LINEAGE_FAULT=PHASE:RANK[:KIND]: testing aid, make rank RANK fail at the start of phase
  /// PHASE of `compare` (KIND `std`: a std::runtime_error, the default; `input`: an InputError).
  std::optional<std::string> fault;
  /// LINEAGE_ROW_BLOCK_BYTES: the row block size of `compare` (testing and tuning aid; parsed by
  /// pipeline/journaled_work.hpp row_block_bytes_of).
  std::optional<std::string> row_block_bytes;
  /// LINEAGE_TEST_READS_TRIAL_MIN_BYTES: testing aid, the smallest unit (both sides' bytes) the
  /// trial of `--read-units auto` counts (cluster/unit_reads_choice.hpp; parsed by compare_run).
  std::optional<std::string> test_reads_trial_min_bytes;
  /// LINEAGE_STEP_CPU=1: benchmark aid, each rank of `compare` writes its CPU seconds per step to
  /// stderr (scripts/bench-sketch.sh reads them).
  bool step_cpu = false;
  /// LINEAGE_TEST_MOVES_AFTER_PASS=L[,L...]: testing aid, `compare` leaves the moves of these
  /// text layers to the step after the pass (parsed by compare_run).
  std::optional<std::string> test_moves_after_pass;
  /// OMPI_COMM_WORLD_SIZE is set: this process is a rank started by Open MPI's mpirun/orted.
  bool under_mpirun = false;
  /// One of cluster::kMpiRankVariables is set: an MPI launcher started this process as a rank
  /// (`compare` initialises MPI only then).
  bool started_as_mpi_rank = false;
  /// The Open MPI PML a rank asks for before MPI_Init (cluster::preferred_pml): "ob1" for the
  /// ranks of one node where the user chose none (OMPI_MCA_pml).
  std::optional<std::string> mpi_pml;
  /// The host name (gethostname), for the writer lock's holder line.
  std::string host;
};

/// The process environment, read once.
[[nodiscard]] const Environment& environment();

/// Whether `read` (a variable's value, nullopt when unset or empty) shows one of
/// cluster::kMpiRankVariables: how environment() decides started_as_mpi_rank.
[[nodiscard]] bool started_as_mpi_rank(const std::function<std::optional<std::string>(const char*)>& read);

/// `setting`, the value of the environment variable `variable`, as a whole number of at least
/// `least`: digits alone (no sign, no space). Throws ConfigError naming the variable otherwise.
[[nodiscard]] std::uint64_t whole_number_of(const std::string& setting, std::string_view variable, std::uint64_t least);

/// Settings for remote model locations (io/model_source.hpp) from the environment.
[[nodiscard]] io::RemoteOptions remote_options();

}  // namespace lineage::pipeline
