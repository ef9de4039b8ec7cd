#pragma once
/// @file journaled_work.hpp
/// What a run's journal holds, as compare needs it: the outcome of every finished unit, with the
/// row blocks of split units merged in block order (stages/execute/execute_unit.hpp
/// merge_row_blocks) once all of a unit's blocks are in, and the blocks of units not yet complete
/// (a resumed run recomputes only the blocks missing); the store's results gathered from them.
/// Also the row block size a run uses.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cluster/unit_executor.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::pipeline {

/// Reads every journal file of the store `store`, record by record, and calls `finished` once with
/// the outcome of every finished unit, in no set order: the first record of a unit wins, a unit
/// record over its blocks', and a split unit whose blocks are all in is merged from them in block
/// order (read back one at a time, so one block's accumulators are held, not the run's). Returns
/// the row blocks of units not yet complete, with their hashes (JournaledHashes::block >= 0).
/// `units` are the run's units (ids index them); `block_bytes` the run's row block size. Throws
/// StoreError when a journaled block is not a block of its unit at this size (a resume with
/// another LINEAGE_ROW_BLOCK_BYTES) or a record is of another version.
[[nodiscard]] std::vector<cluster::JournaledHashes> read_journaled_work(
    const std::filesystem::path& store, std::span<const stages::ComparisonUnit> units, std::uint64_t block_bytes,
    const std::function<void(stages::UnitOutcome&&)>& finished);

/// Rank 0's gather: empties `store`'s results and fills them from the journals of the store at
/// `path` (read_journaled_work) with the outcome of every finished unit of `units`, in ascending
/// unit order. Each outcome goes into the store's columns as it is read, so rank 0 never holds the
/// run's outcomes beside its results. Returns the outcomes of units past `units`, by id: a resumed
/// run's matched units, which are planned again only after the pass (take_results moves them in
/// then).
[[nodiscard]] std::map<std::uint64_t, stages::UnitOutcome> gather_results(io::StoreContents& store,
                                                                          const std::filesystem::path& path,
                                                                          std::span<const stages::ComparisonUnit> units,
                                                                          std::uint64_t block_bytes);

/// Empties `store`'s results (rows, hashes, kept values, sketches, joint nulls, neuron matches).
void clear_results(io::StoreContents& store);

/// Moves into `store` the outcomes in `done` of units with ids below `unit_count`, each erased from
/// `done` as it is taken, so rank 0 never holds a unit's results twice. They join the results
/// `store` already holds, which must all be of lower unit ids (InternalError otherwise), so the
/// store's rows stay in ascending unit order.
void take_results(io::StoreContents& store, std::map<std::uint64_t, stages::UnitOutcome>& done, std::size_t unit_count);

/// Whether `store`'s results or the outcomes in `done` include unit `id`.
[[nodiscard]] bool has_result(const io::StoreContents& store, const std::map<std::uint64_t, stages::UnitOutcome>& done,
                              std::uint64_t id);

/// Empties `done` and gives the memory freed since the gather back to the system
/// (pipeline/freed_memory.hpp): what the gather's outcomes left behind, once read into the store's
/// columns, goes back before the verdicts are made, which then take fresh, packed pages.
void release_outcomes(std::map<std::uint64_t, stages::UnitOutcome>& done);

/// The row block size of this run: LINEAGE_ROW_BLOCK_BYTES (a testing and tuning aid,
/// docs/cli.md) or stages::kRowBlockBytes. Throws ConfigError unless the value is a whole number
/// of at least 1.
[[nodiscard]] std::uint64_t row_block_bytes_of(const std::optional<std::string>& setting);

}  // namespace lineage::pipeline
