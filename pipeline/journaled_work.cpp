#include "pipeline/journaled_work.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "io/journal/journal.hpp"
#include "pipeline/freed_memory.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/row_block_partial.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::pipeline {

JournaledWork read_journaled_work(const std::filesystem::path& store, std::span<const stages::ComparisonUnit> units,
                                  std::uint64_t block_bytes) {
  JournaledWork out;
  // Unit records are read whole; of block records only where they lie, by unit then block index
  // (the first record of a block wins, as for units). A unit's blocks are then read back one at a
  // time as they merge, so rank 0 holds one block's accumulators, not the run's.
  struct Where {
    std::size_t file;
    io::JournalRecord record;
  };
  const auto files = io::journal_files_of(store);
  std::map<std::uint64_t, std::map<std::uint64_t, Where>> blocks;
  for (std::size_t f = 0; f < files.size(); ++f) {
    for (auto& r : io::read_journal(files[f], io::JournalPayloads::unit_records).records) {
      if (!r.block) {
        if (!out.done.count(r.unit_id))
          out.done.emplace(r.unit_id, stages::UnitOutcome::deserialize(r.unit_id, r.payload));
      } else {
        const auto unit_id = r.unit_id, index = *r.block;
        blocks[unit_id].emplace(index, Where{f, std::move(r)});
      }
    }
  }
  for (const auto& unit_blocks : blocks) {
    // Named, not structured bindings: the lambdas below capture them (C++20 allows it, clang 14 does not).
    const auto id = unit_blocks.first;
    const auto& located = unit_blocks.second;
    if (out.done.count(id)) continue;
    if (id >= units.size()) {
      throw StoreError(store.string() + ": the journal holds a row block of unit " + std::to_string(id) +
                       ", which the run does not have");
    }
    const auto& unit = units[id];
    const auto want = stages::row_blocks(unit, block_bytes);
    const auto load = [&](std::uint64_t index, const Where& where) {
      auto part = stages::RowBlockPartial::deserialize(id, io::read_journal_payload(files[where.file], where.record));
      const bool fits = index == part.block.index && index < want.size() && want.size() > 1 &&
                        want[index].count == part.block.count && want[index].first_row == part.block.first_row &&
                        want[index].rows == part.block.rows;
      if (!fits) {
        throw StoreError(store.string() + ": --resume, but the journal's row block " + std::to_string(index) +
                         " of unit " + std::to_string(id) + " (" + to_string(unit.key_a) +
                         ") was cut with another row block size (LINEAGE_ROW_BLOCK_BYTES); resume with the size " +
                         "the run began with, or start a new run (another --out)");
      }
      return part;
    };
    if (located.size() == want.size() && located.rbegin()->first + 1 == want.size()) {
      // Every block 0..count-1 is journaled: merged in block order into the unit's outcome.
      out.done.emplace(id, stages::merge_row_blocks(unit, want.size(), [&](std::uint64_t i) {
                         auto part = load(i, located.at(i));
                         if (i == 0 && !part.sampled) {
                           throw StoreError(store.string() + ": the journal's block 0 of unit " + std::to_string(id) +
                                            " lacks the unit's sampled statistics");
                         }
                         return part;
                       }));
    } else {
      for (const auto& [index, where] : located) {
        const auto part = load(index, where);
        out.pending_blocks.push_back({id, part.hash_a, part.hash_b, static_cast<std::int64_t>(index)});
      }
    }
  }
  return out;
}

std::uint64_t row_block_bytes_of(const std::optional<std::string>& setting) {
  if (!setting) return stages::kRowBlockBytes;
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(*setting, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != setting->size() || v < 1 || setting->front() == '-') {
    throw ConfigError("LINEAGE_ROW_BLOCK_BYTES",
                      "expected a whole number of bytes (at least 1), got '" + *setting + "'");
  }
  return v;
}

void clear_results(io::StoreContents& store) {
  store.done_ids.clear();
  store.stats.clear();
  store.hash_a.clear();
  store.hash_b.clear();
  store.values.clear();
  store.sketches.clear();
  store.joint_null.clear();
  store.neuron_matches.clear();
}

void take_results(io::StoreContents& store, std::map<std::uint64_t, stages::UnitOutcome>& done,
                  std::size_t unit_count) {
  const auto end = done.lower_bound(unit_count);
  if (done.begin() != end && !store.done_ids.empty() && done.begin()->first <= store.done_ids.back()) {
    throw InternalError("results of unit " + std::to_string(done.begin()->first) + " would follow those of unit " +
                        std::to_string(store.done_ids.back()));
  }
  for (auto it = done.begin(); it != end; it = done.erase(it)) {
    const auto id = it->first;
    auto& o = it->second;
    store.done_ids.push_back(id);
    stages::append_stat_columns(store.stats, o.stats);
    store.hash_a.push_back(o.hash_a);
    store.hash_b.push_back(o.hash_b);
    if (!o.values_a.empty()) store.values[id] = {std::move(o.values_a), std::move(o.values_b)};
    if (!o.sketch_a.empty()) store.sketches[id] = {std::move(o.sketch_a), std::move(o.sketch_b)};
    if (!o.joint_null.empty()) store.joint_null[id] = std::move(o.joint_null);
    if (!o.neuron_sampled.empty()) store.neuron_matches[id] = {std::move(o.neuron_sampled), std::move(o.neuron_match)};
  }
}

bool has_result(const io::StoreContents& store, const std::map<std::uint64_t, stages::UnitOutcome>& done,
                std::uint64_t id) {
  return done.count(id) != 0 || std::binary_search(store.done_ids.begin(), store.done_ids.end(), id);
}

void release_outcomes(std::map<std::uint64_t, stages::UnitOutcome>& done) {
  std::map<std::uint64_t, stages::UnitOutcome>().swap(done);
  (void)return_freed_memory();
}

}  // namespace lineage::pipeline
