#pragma once
/// @file unit_executor.hpp
/// Executes a run plan's work items (stages/plan/work_plan.hpp: whole units, and row blocks of
/// split units): each rank computes the items the work plan gives it, in plan order, appends
/// every outcome (a unit record, or a block record holding the block's partial sums) to its own
/// journal and makes the journal durable every few
/// seconds and at the end. It takes no decisions of its own (STYLE §6): which units, on which
/// rank, was settled by stages/plan; when to stop is the caller's signal flag. The compute runs
/// as one phase of the failure protocol (cluster/phase.hpp), so a failing unit on one rank ends
/// the loop on every rank with one agreed PhaseError, after which every finished unit is still in
/// the journals.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cluster/communicator.hpp"
#include "cluster/phase.hpp"
#include "cluster/progress_reporter.hpp"
#include "cluster/unit_reads_choice.hpp"
#include "core/run_config.hpp"
#include "io/journal/journal.hpp"
#include "io/safetensors_file.hpp"
#include "stages/execute/block_scales.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/pair/block_scale_companions.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/plan/shard_plan.hpp"
#include "stages/plan/work_plan.hpp"

namespace lineage::cluster {

/// The smallest pread of UnitBytes::read_as_asked: small enough that a chunk of each side is still
/// in the second-level cache when the pass reads it, large enough that a unit is a few dozen
/// calls (docs/benchmarks.md: 512 KiB chunks took 15-27% less time than whole 8 MiB units).
inline constexpr std::uint64_t kReadChunkBytes = std::uint64_t{512} << 10;

/// The stored bytes of units' tensors, with one open mapping per file (the compute loop and the
/// resume's re-check).
class UnitBytes {
 public:
  explicit UnitBytes(const std::vector<stages::RunModel>& models) : models_(models) {}

  /// The whole view, as execute_unit expects: a unit may read past its compared rows (a router
  /// whose expert counts differ is kept whole for the expert matching).
  [[nodiscard]] std::span<const std::byte> of(const stages::ElementView& v);
  /// The view's byte range inside its file (validated by SafetensorsFile::range).
  [[nodiscard]] static std::pair<std::uint64_t, std::uint64_t> range(const stages::ElementView& v);
  /// The byte range of rows [first_row, first_row + rows) of the view (a row block's share).
  [[nodiscard]] static std::pair<std::uint64_t, std::uint64_t> rows_range(const stages::ElementView& v,
                                                                          std::uint64_t first_row, std::uint64_t rows);
  [[nodiscard]] io::SafetensorsFile& file(const stages::ElementView& v);
  /// The whole view copied by pread into this object's buffer for side `side` (0 or 1), valid
  /// until the next read of that side, with SafetensorsFile::read's checks: the side of a row
  /// block's unit whose sketch reads every row of the tensor.
  [[nodiscard]] std::span<const std::byte> read(const stages::ElementView& v, int side);
  /// The bytes [range.first, range.second) of v's file, checked as read() checks them, in the
  /// buffer for side `side`, but copied only as a pass asks for them (stages::ArrivingBytes), in
  /// chunks of at least kReadChunkBytes: the span, and the function a pass asks with. Each chunk
  /// is read just before the pass reads it and so is still in cache, where a copy of the whole
  /// range made first has left the cache by the time the pass comes back to its start
  /// (docs/benchmarks.md, "chunked reads"). Both valid until the next read of that side.
  [[nodiscard]] std::pair<std::span<const std::byte>, std::function<void(std::uint64_t)>> read_as_asked(
      const stages::ElementView& v, std::pair<std::uint64_t, std::uint64_t> range, int side);
  /// The first `cols` elements of each of v's rows `rows` (consecutive elements: col_stride 1),
  /// one row after the other, copied the same way: one pread per run of rows that follow each
  /// other in the file (stages::execute_unit_of_sampled_rows).
  [[nodiscard]] std::span<const std::byte> read_rows(const stages::ElementView& v, std::span<const std::uint64_t> rows,
                                                     std::uint64_t cols, int side);
  /// `u` as its tensors' readers need it: where a side is a block-scaled weight (METHODS §0,
  /// stages/pair/block_scale_companions.hpp) a copy of `u` whose view has the factors read from
  /// the model's scale companion (ElementView::scales), valid until the next call; `u` itself
  /// when neither side is.
  [[nodiscard]] const stages::ComparisonUnit& with_scales(const stages::ComparisonUnit& u);

 private:
  /// The factors of v's tensor, or null when it is stored as its values.
  std::shared_ptr<const stages::BlockScales> scales_of(const stages::ElementView& v);
  io::SafetensorsFile& file(int model, const std::string& name);
  /// Side `side`'s buffer, grown to at least `bytes` (its contents are then lost), as
  /// SafetensorsFile::read grows it.
  std::byte* buffer(int side, std::size_t bytes);

  const std::vector<stages::RunModel>& models_;
  std::unique_ptr<std::byte[]> buffers_[2];
  std::size_t capacities_[2] = {0, 0};
  std::uint64_t copied_[2] = {0, 0};  // bytes of the span read_as_asked gave that are copied
  std::map<std::pair<int, std::string>, std::unique_ptr<io::SafetensorsFile>> files_;
  /// The factors read lately, by model and scale tensor (a weight is in several units in a row).
  std::map<std::pair<int, std::size_t>, std::shared_ptr<const stages::BlockScales>> scales_;
  std::shared_ptr<const stages::BlockScales> scales_a_, scales_b_;  // those of scaled_unit_
  std::optional<stages::ComparisonUnit> scaled_unit_;
};

/// A journaled unit's (or row block's) hashes, as the journal recorded them.
struct JournaledHashes {
  std::uint64_t unit_id = 0;
  std::uint64_t hash_a = 0;
  std::uint64_t hash_b = 0;
  /// The row block (row_blocks(unit, block_bytes)[block]) of a unit not yet complete; -1: the unit.
  std::int64_t block = -1;
};

/// --resume: re-hashes this rank's share of `journaled` (the units spread over the communicator's
/// ranks by bytes, plan_shards: the same split on every rank) and compares with the journaled
/// hashes; hashing only, no statistics. Throws StoreError naming file, model, tensor and unit on
/// the first difference (`store` names the run in the message). No communication: the caller
/// runs it as a phase of the failure protocol.
/// `block_bytes` is the run's row block size (a split unit's hash is the hash of its block hashes).
void recheck_journaled_units(const Communicator& comm, const std::string& store, const stages::RunPlan& plan,
                             const std::vector<JournaledHashes>& journaled, const stages::NullOptions& null_options,
                             std::uint64_t block_bytes,
                             const std::function<void(const std::string&, const std::string&)>& reading_files);

struct UnitExecutorOptions {
  stages::NullOptions null;
  /// The row block size whole units are computed with (execute_unit); the work plan's blocks
  /// were cut with the same size.
  std::uint64_t row_block_bytes = stages::kRowBlockBytes;
  /// How a whole unit's bytes, or a row block's rows, are read: copied as the pass reaches them,
  /// or through the mapping (UnitReads). The outcomes are the same bit for bit.
  /// (copy here, where tests and benchmarks build the options; `compare` passes its run's, auto by
  /// default.)
  UnitReads unit_reads = UnitReads::copy;
  /// With UnitReads::automatic, the smallest item (both sides' bytes) whose CPU time the trial
  /// counts (UnitReadsChoice; tests lower it to try both ways on small models).
  std::uint64_t reads_trial_min_bytes = UnitReadsChoice::kMinTrialBytes;
  ProgressOptions progress;
  /// Testing aids (docs/cli.md): fail at this unit as bad input (at the last row block of a split
  /// unit, so its earlier blocks are journaled first on one rank); sleep after each item.
  std::optional<std::uint64_t> fail_at_unit;
  std::uint32_t unit_delay_ms = 0;
  /// Polled before each unit; true ends the loop after a clean checkpoint (Slurm's signals).
  std::function<bool()> stop_requested;
  /// Told the two files each unit reads before it reads them (named by the SIGBUS handler).
  std::function<void(const std::string& file_a, const std::string& file_b)> reading_files;
  /// Called at the start of the compute phase on every rank (LINEAGE_FAULT).
  std::function<void()> at_start;
};

struct UnitExecution {
  std::uint64_t computed = 0;         ///< work items (units and row blocks) computed on all ranks
  std::uint64_t computed_blocks = 0;  ///< of which row blocks
  /// Of the computed items, those whose bytes were read whole through the files' mapping rather
  /// than copied (UnitReads::map, or automatic's trial or choice, or a range too large for the
  /// copy's buffers); all ranks.
  std::uint64_t mapped = 0;
  /// With UnitReads::automatic: the ranks whose trial ended, and of them those that kept mapping.
  std::uint64_t ranks_decided = 0;
  std::uint64_t ranks_mapping = 0;
  /// The way this rank read units at the end (UnitReadsChoice::chosen): the one asked for, or the
  /// one automatic's trial kept; nothing where the trial did not end. A later execution of the same
  /// run (the matching after the pass) starts from it rather than trying again.
  std::optional<UnitReads> kept_reads;
  /// This rank's trial, where it ended: CPU seconds per GB of its units copied and mapped.
  double copy_seconds_per_gb = 0;
  double map_seconds_per_gb = 0;
  bool stopped = false;               ///< some rank stopped on request
  std::optional<PhaseError> failure;  ///< the agreed failure of the compute phase, if any
};

/// Collective over `comm`: computes this rank's items of `work` (built over plan.units() for
/// comm.size() ranks) into `journal`, which is closed on return. Progress goes to `progress_out`.
/// A row block item journals its partial sums and hashes (and, for block 0, the unit's sampled
/// statistics) as a block record; merging is the reader's (merge_row_blocks).
/// Precondition: the plan was built for execution (not planning_only), identically on every rank.
[[nodiscard]] UnitExecution execute_units(const Communicator& comm, const stages::RunPlan& plan,
                                          const stages::WorkPlan& work, std::unique_ptr<io::JournalWriter> journal,
                                          const UnitExecutorOptions& options, std::ostream& progress_out);

}  // namespace lineage::cluster
