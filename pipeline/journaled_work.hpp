#pragma once
/// @file journaled_work.hpp
/// What a run's journal holds, as compare needs it: the outcome of every finished unit, with the
/// row blocks of split units merged in block order (stages/execute/execute_unit.hpp
/// merge_row_blocks) once all of a unit's blocks are in, and the blocks of units not yet complete
/// (a resumed run recomputes only the blocks missing). Also the row block size a run uses.

#include <cstdint>
#include <filesystem>
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

struct JournaledWork {
  /// Finished units by id (the first record of a unit wins; a unit record over its blocks').
  std::map<std::uint64_t, stages::UnitOutcome> done;
  /// Row blocks of units not yet complete, with their hashes (JournaledHashes::block >= 0).
  std::vector<cluster::JournaledHashes> pending_blocks;
};

/// Reads every journal file of the store `store` and merges complete split units. `units` are the
/// run's units (ids index them); `block_bytes` the run's row block size. Throws StoreError when a
/// journaled block is not a block of its unit at this size (a resume with another
/// LINEAGE_ROW_BLOCK_BYTES) or a record is of another version.
[[nodiscard]] JournaledWork read_journaled_work(const std::filesystem::path& store,
                                                std::span<const stages::ComparisonUnit> units,
                                                std::uint64_t block_bytes);

/// Empties `store`'s results (rows, hashes, kept values, sketches, joint nulls, neuron matches).
void clear_results(io::StoreContents& store);

/// Moves into `store` the outcomes in `done` of units with ids below `unit_count`, each erased from
/// `done` as it is taken, so rank 0 never holds a unit's results twice (a resumed run's journals
/// may hold units of a phase not yet planned again: those stay in `done`). They join the results
/// `store` already holds, which must all be of lower unit ids (InternalError otherwise), so the
/// store's rows stay in ascending unit order.
void take_results(io::StoreContents& store, std::map<std::uint64_t, stages::UnitOutcome>& done, std::size_t unit_count);

/// Whether `store`'s results or the outcomes in `done` include unit `id`.
[[nodiscard]] bool has_result(const io::StoreContents& store, const std::map<std::uint64_t, stages::UnitOutcome>& done,
                              std::uint64_t id);

/// Empties `done` and gives the memory it held back to the system (pipeline/freed_memory.hpp):
/// what the outcomes taken into the store left behind, tens of megabytes of freed small blocks on a
/// deep model, goes back before the verdicts are made, which then take fresh, packed pages.
void release_outcomes(std::map<std::uint64_t, stages::UnitOutcome>& done);

/// The row block size of this run: LINEAGE_ROW_BLOCK_BYTES (a testing and tuning aid,
/// docs/cli.md) or stages::kRowBlockBytes. Throws ConfigError unless the value is a whole number
/// of at least 1.
[[nodiscard]] std::uint64_t row_block_bytes_of(const std::optional<std::string>& setting);

}  // namespace lineage::pipeline
