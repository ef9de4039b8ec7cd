#pragma once
/// @file run_config.hpp
/// The one configuration surface of a comparison run. A YAML run file (io/run_file.hpp) and the
/// command-line options of `lineage compare` both fill this struct; every key is documented in
/// docs/cli.md and unknown keys are errors.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lineage {

struct SlurmSettings {
  int nodes = 1;
  int tasks_per_node = 2;
  int cpus_per_task = 1;
  std::string time = "01:00:00";
  std::string partition;
  std::string account;
  std::string mem;
  int signal_seconds_before_limit = 120;  ///< `--signal=USR1@N`: checkpoint before the limit
  bool requeue = true;
  std::vector<std::string> extra_sbatch;  ///< verbatim `#SBATCH` lines
};

/// How `compare` reads the bytes of the units it computes whole (or of a row block's rows).
enum class UnitReads : std::uint8_t {
  /// Copied by pread in chunks of 512 KiB as the pass reaches them: the bytes stay in the cache
  /// between the copy and the pass, and no page table is touched (what mapping costs on some
  /// virtual machines).
  copy,
  /// Read through the file's mapping, populated before each unit and released after: no copy,
  /// so less system time where page-table updates are cheap (docs/benchmarks.md).
  map,
  /// Each rank tries both on its first units and keeps the one that costs it less CPU time per
  /// byte (cluster/unit_reads_choice.hpp). The default.
  automatic,
};

/// The UnitReads `name` spells ("copy", "map" or "auto", as `--read-units` and the run file's
/// `read_units` take it), or nothing for any other name: each caller refuses it its own way.
[[nodiscard]] inline std::optional<UnitReads> unit_reads_named(std::string_view name) noexcept {
  if (name == "copy") return UnitReads::copy;
  if (name == "map") return UnitReads::map;
  if (name == "auto") return UnitReads::automatic;
  return std::nullopt;
}

struct RunConfig {
  std::string suspect;                ///< model folder of the suspect (B)
  std::vector<std::string> parents;   ///< candidate parents (A); one per pair
  std::vector<std::string> controls;  ///< unrelated controls compared the same way
  std::string out = "run.h5";
  bool resume = false;
  bool quiet = false;
  std::optional<std::string> family;  ///< force a family instead of detecting it
  std::string families_dir;           ///< empty: the built-in families/
  bool baselines = true;              ///< within-model layer baselines
  /// Per-expert sketches (expert matching from the experts' weights); off only in benchmarks
  /// (hidden option --no-expert-sketches), to measure what they add to the pass.
  bool expert_sketches = true;
  /// The second phase of compare (the moved experts' matched_expert units); off only in
  /// benchmarks (hidden option --no-matched-experts), to separate its cost from the sketches'.
  bool matched_experts = true;
  /// Per-layer sketches of the matrix roles (layer x layer sketch matrices); off only in
  /// benchmarks (hidden option --no-layer-sketches), to measure what they add to the pass.
  bool layer_sketches = true;
  /// Relabellings per unit for the permutation null (stages/null/hidden_null.hpp); 0 skips the
  /// permutation tests (no p-values: verdicts are then inconclusive), to measure their cost.
  int null_permutations = 100;
  /// A screening run (compare --screen): the raw-byte hashes and the moments of every same-key
  /// unit (cosine, centred cosine, relative L2) and nothing else, for a first look at a pair too
  /// large to compare in full at once. No null, baselines, sketches or expert matching, so the
  /// verdicts rest on equal values alone (identity, values reused exactly), else "inconclusive"
  /// (apply_screening).
  bool screen = false;
  /// How the units' bytes are read (UnitReads); the results are the same bit for bit.
  UnitReads unit_reads = UnitReads::automatic;
  SlurmSettings slurm;
  /// Compare the suspect with one model only: index into parents followed by controls (a task of
  /// a Slurm job array). The model keeps its label (parent2, control3) so merged stores agree.
  std::optional<std::size_t> pair;
  /// Testing aid (hidden CLI option): the rank that owns this unit fails with an InputError
  /// instead of computing it, to exercise the failing-rank path end to end.
  std::optional<std::uint64_t> inject_failure_at_unit;
  /// Testing aid (hidden CLI option): sleep this long after each unit, so that end-to-end tests
  /// can stop, cancel or requeue a job on tiny models while it is computing.
  std::uint32_t test_unit_delay_ms = 0;
};

/// Makes `config` a screening run (RunConfig::screen): what the screen leaves out, off.
inline void apply_screening(RunConfig& config) {
  config.screen = true;
  config.baselines = false;
  config.expert_sketches = false;
  config.layer_sketches = false;
  config.matched_experts = false;
  config.null_permutations = 0;
}

}  // namespace lineage
