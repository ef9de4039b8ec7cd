#pragma once
/// @file result_store.hpp
/// The HDF5 result store of a run (`run.h5`): the single reader and writer of the schema in
/// docs/store-schema.md. A store is always written whole to a temporary file and renamed into
/// place, so a process killed at any moment leaves either the previous store or the new one,
/// never a half-written file; progress between store writes lives in the journal
/// (io/journal), from which a resumed run rebuilds.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/shared_name.hpp"
#include "core/tensor_key.hpp"
#include "core/unit_kind.hpp"
#include "core/unmatched_tensor.hpp"
#include "io/spilled_vector.hpp"
#include "io/unit_rows.hpp"

namespace lineage::io {

/// Version 2 adds per-row XXH3 checksums (/units/row_xxh3, /results/row_xxh3); version 1 stores
/// are still read (they have no checksums to verify). Version 3 writes each text dataset
/// (/run/config_json, /*/json) as one fixed-length string, which readers of version 2 cannot read
/// (HDF5 does not convert fixed-length strings to variable-length ones): they refuse it cleanly.
inline constexpr std::int64_t kStoreSchemaVersion = 3;
inline constexpr std::int64_t kOldestReadableSchemaVersion = 1;

/// One input model and its fingerprint (file sizes and header hashes of every shard).
struct StoredModel {
  std::string label;  ///< "suspect", "parent", "control1", ...
  std::string path;
  std::string family;
  std::uint64_t tensors = 0;
  std::vector<std::string> shard_files;
  std::vector<std::uint64_t> shard_sizes;
  std::vector<std::uint64_t> header_hashes;  ///< per shard: xxh3 of the header hash + 16 sampled data blocks
  /// Per shard: modification time (ns since the epoch) when the run began; a `--resume` refuses a
  /// shard whose time moved (an edit the sampled hash misses). Not part of fingerprint(): copies
  /// of one model on two clusters have other times but merge. Empty in older stores.
  std::vector<std::int64_t> shard_mtimes_ns;
  /// One number for the whole model (xxh3 over the per-shard fingerprints).
  [[nodiscard]] std::uint64_t fingerprint() const;
};

/// One comparison unit as recorded (all planned units, finished or not). Typed: the store's
/// text columns (/units/kind, /units/key_a, ...) are converted here in io/store, on writing and
/// on reading, and nowhere else. The /units/component and /units/role columns are key_a's and
/// are written from it.
struct StoredUnit {
  std::uint64_t id = 0;
  UnitKind kind = UnitKind::same_key;
  TensorKey key_a;
  TensorKey key_b;
  /// Shared with the run's plan and inventories (a deep MoE pair has a few hundred thousand units,
  /// each naming two tensors: copies of the names were tens of megabytes on rank 0).
  SharedName tensor_a;
  SharedName tensor_b;
  std::int32_t model_a = 0;
  std::int32_t model_b = 1;
  std::int32_t layer_a = -1;
  std::int32_t layer_b = -1;
  std::int32_t expert = -1;
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t bytes = 0;  ///< bytes the unit reads (both sides); 0 in stores written before it was kept
  friend bool operator==(const StoredUnit&, const StoredUnit&) = default;
};

/// A store in memory. Its two largest per-unit parts, `units` and `stats`, are SpilledVectors:
/// rank 0 of a compare holds them from the pre-flight and the gather to the store's write, as
/// pages of a file in the store's folder rather than anonymous memory (io/spilled_vector.hpp).
struct StoreContents {
  std::string run_id;
  std::string status = "partial";  ///< "complete" once every unit has results or is superseded
  std::string config_json;         ///< the RunConfig as JSON
  std::string tool_version = "lineage 0.1.0";
  std::vector<StoredModel> models;
  SpilledVector<StoredUnit> units;
  /// Tensors of one model without a counterpart in another (the pair stage's records).
  std::vector<UnmatchedTensor> unmatched;
  // The plan (rank-count specific; stored so a resumed run can replay or re-plan the rest).
  std::int32_t plan_ranks = 1;
  std::vector<std::int32_t> plan_rank_of_unit;
  std::vector<std::uint64_t> plan_bytes_per_rank;
  // Results: rows of `stats` (n_done x stat_names.size(), row-major) belong to `done_ids`. The
  // columns are named, so a store of any statistics version reads; stages/execute/unit_stats.hpp
  // maps them to and from UnitStats.
  std::vector<std::string> stat_names;
  std::vector<std::uint64_t> done_ids;
  /// Same-key units of routed experts that were never computed because their expert moved and
  /// its matched_expert units confirmed the move (pipeline/matched_phase.hpp): the verdict judges
  /// the expert at its match, so these units need no results. Ascending, none in done_ids.
  std::vector<std::uint64_t> superseded_ids;
  SpilledVector<double> stats;
  std::vector<std::uint64_t> hash_a;  ///< per done unit: xxh3 of side A's raw bytes
  std::vector<std::uint64_t> hash_b;
  /// Decoded values kept whole (norm vectors, routers), by unit id: side A's and side B's (a
  /// router of a deep MoE pair is a quarter megabyte a side, kept until the store's write).
  UnitValues values;
  /// Per-expert sketches (stages/execute/expert_sketch.hpp), by unit id: rows of halves, side A's
  /// then side B's, each of one width for the whole store (written as two [n, width] datasets).
  UnitRows<float> sketches;
  /// The joint test's relabelled h of small same-key units (stages/null/hidden_null.hpp
  /// HiddenNull::joint), by unit id; one length for the whole store.
  UnitRows<float> joint_null;
  /// Neuron matchings of MLP units, by unit id: rows of halves, the suspect's sampled neurons, then
  /// the other model's neuron matched to each (stages/align/neuron_matching.hpp).
  UnitRows<std::uint64_t> neuron_matches;
  /// Per-role summaries and verdicts as JSON documents (stages/verdict writes them).
  std::string summaries_json;
  SpilledText verdict_json;
  /// Evidence beside the weights (tokenizer, architecture, behaviour) as a JSON array of items
  /// {kind, subject, support, reading, result}; empty when none was recorded.
  std::string evidence_json;
  /// The tensor scan (stages/align/byte_identity.hpp): per model each tensor's sampled SD, per
  /// pair the byte-identical tensors, and the scan's cost; empty in stores written before it.
  SpilledText tensor_scan_json;
  /// Slurm job ids (or "local") that wrote to this store, oldest first.
  std::vector<std::string> writers;
  /// The schema version the store was read from (written stores are always kStoreSchemaVersion).
  std::int64_t schema_version = kStoreSchemaVersion;
  /// Checksums as read (schema >= 2; empty for version 1). Writing recomputes them.
  std::vector<std::uint64_t> unit_checksums;
  std::vector<std::uint64_t> row_checksums;
};

/// Whether the store holds a screening run (compare --screen: "screen" true in its config_json;
/// false for a store written before it was recorded, or a config that is not JSON).
[[nodiscard]] bool is_screening_run(const StoreContents& c);

/// Whether the store's run read block-scaled (block-FP8) weights on their values, codes times
/// factors ("block_scaled": "values" in its config_json, written since statistics version 9);
/// false for a store of an earlier lineage, which read them on their codes.
[[nodiscard]] bool reads_block_scaled_values(const StoreContents& c);

/// Units neither computed nor superseded (0 for a complete run).
[[nodiscard]] std::uint64_t units_missing(const StoreContents& c) noexcept;

/// XXH3-64 of every field of a unit row (what /units/row_xxh3 holds).
[[nodiscard]] std::uint64_t unit_checksum(const StoredUnit& u);
/// XXH3-64 of result row `row`: unit id, the stats row and both byte hashes (/results/row_xxh3).
[[nodiscard]] std::uint64_t result_row_checksum(const StoreContents& c, std::size_t row);

struct StoreReadOptions {
  /// Verify the per-row checksums (schema >= 2) and refuse a store whose rows do not match.
  /// `lineage check` reads without it and reports every bad row itself.
  bool verify_checksums = true;
};

/// Writes `contents` to `path` atomically: to `PATH.tmp-XXXXXX`, closed and fsynced, then renamed
/// over `path`, so readers see the old store or the new one and a failure (a full disk) leaves
/// the old store in place. Throws StoreError naming the path.
void write_result_store(const std::filesystem::path& path, const StoreContents& contents);
/// Removes temporary stores (`PATH.tmp-XXXXXX`) left by a writer that was killed. Call only while
/// holding the store's writer lock (io/run_lock.hpp). Returns the files removed.
std::vector<std::filesystem::path> remove_stale_store_temporaries(const std::filesystem::path& path);
/// Reads a store written by write_result_store. Throws StoreError on a missing or foreign file, an
/// unsupported schema version, contents that do not fit together (column lengths, indices,
/// checksums), or a unit kind or tensor key that is not lineage's text (naming the dataset and
/// row): every reader of a store goes through here, so nothing after it indexes blindly.
[[nodiscard]] StoreContents read_result_store(const std::filesystem::path& path, const StoreReadOptions& options = {});

}  // namespace lineage::io
