#include "pipeline/journaled_work.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "io/journal/journal.hpp"
#include "pipeline/environment.hpp"
#include "pipeline/freed_memory.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/row_block_partial.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::pipeline {

namespace {

/// Moves outcome `o` into `store`'s results as its next row.
void append_result(io::StoreContents& store, stages::UnitOutcome&& o) {
  const auto id = o.unit_id;
  store.done_ids.push_back(id);
  stages::append_stat_columns(store.stats, o.stats);
  store.hash_a.push_back(o.hash_a);
  store.hash_b.push_back(o.hash_b);
  if (!o.values_a.empty()) store.values.put(id, o.values_a, o.values_b);
  if (!o.sketch_a.empty()) store.sketches.put(id, o.sketch_a, o.sketch_b);
  if (!o.joint_null.empty()) store.joint_null.put(id, o.joint_null);
  if (!o.neuron_sampled.empty()) store.neuron_matches.put(id, o.neuron_sampled, o.neuron_match);
}

/// Puts `store`'s result rows (of distinct unit ids) in ascending unit order; the results kept by
/// id (values, sketches, ...) need no order. The stats table is permuted in place, a row at a time,
/// so the gather never holds it twice.
void order_results_by_unit(io::StoreContents& store) {
  auto& ids = store.done_ids;
  if (std::is_sorted(ids.begin(), ids.end())) return;
  const auto n = ids.size();
  std::vector<std::size_t> order(n);  // row i of the result is row order[i] of the store
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return ids[x] < ids[y]; });
  const auto gathered = [&](std::vector<std::uint64_t>& column) {
    std::vector<std::uint64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = column[order[i]];
    column.swap(out);
  };
  gathered(ids);
  gathered(store.hash_a);
  gathered(store.hash_b);
  const auto width = store.stats.size() / n;
  std::vector<double> held(width);
  std::vector<bool> placed(n, false);
  const auto row = [&](std::size_t r) { return store.stats.begin() + static_cast<std::ptrdiff_t>(r * width); };
  for (std::size_t start = 0; start < n; ++start) {
    if (placed[start] || order[start] == start) continue;
    // Follow the cycle through `start`: each row takes the one it is to hold, the last the first's.
    std::copy(row(start), row(start) + static_cast<std::ptrdiff_t>(width), held.begin());
    auto at = start;
    while (order[at] != start) {
      std::copy(row(order[at]), row(order[at]) + static_cast<std::ptrdiff_t>(width), row(at));
      placed[at] = true;
      at = order[at];
    }
    std::copy(held.begin(), held.end(), row(at));
    placed[at] = true;
  }
}

}  // namespace

std::vector<cluster::JournaledHashes> read_journaled_work(const std::filesystem::path& store,
                                                          std::span<const stages::ComparisonUnit> units,
                                                          std::uint64_t block_bytes,
                                                          const std::function<void(stages::UnitOutcome&&)>& finished) {
  std::vector<cluster::JournaledHashes> pending;
  // Unit records are deserialised as they are read; of block records only where they lie is kept,
  // by unit then block index (the first record of a block wins, as for units). A unit's blocks
  // are then read back one at a time as they merge.
  struct Where {
    std::size_t file;
    io::JournalRecord record;
  };
  const auto files = io::journal_files_of(store);
  std::vector<std::uint8_t> seen(units.size(), 0);
  std::set<std::uint64_t> seen_unplanned;  // a resumed run's matched units, not planned yet
  const auto first_time = [&](std::uint64_t id) {
    if (id < seen.size()) return std::exchange(seen[id], std::uint8_t{1}) == 0;
    return seen_unplanned.insert(id).second;
  };
  const auto was_seen = [&](std::uint64_t id) {
    return id < seen.size() ? seen[id] != 0 : seen_unplanned.count(id) != 0;
  };
  std::map<std::uint64_t, std::map<std::uint64_t, Where>> blocks;
  for (std::size_t f = 0; f < files.size(); ++f) {
    (void)io::scan_journal(files[f], [&](const io::JournalRecordView& r) {
      if (!r.block) {
        if (first_time(r.unit_id)) finished(stages::UnitOutcome::deserialize(r.unit_id, r.payload));
        return;
      }
      io::JournalRecord where;
      where.unit_id = r.unit_id;
      where.block = r.block;
      where.payload_offset = r.payload_offset;
      where.payload_size = r.payload.size();
      blocks[r.unit_id].emplace(*r.block, Where{f, std::move(where)});
    });
  }
  for (const auto& unit_blocks : blocks) {
    // Named, not structured bindings: the lambdas below capture them (C++20 allows it, clang 14 does not).
    const auto id = unit_blocks.first;
    const auto& located = unit_blocks.second;
    if (was_seen(id)) continue;
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
      auto merged = stages::merge_row_blocks(unit, want.size(), [&](std::uint64_t i) {
        auto part = load(i, located.at(i));
        if (i == 0 && !part.sampled) {
          throw StoreError(store.string() + ": the journal's block 0 of unit " + std::to_string(id) +
                           " lacks the unit's sampled statistics");
        }
        return part;
      });
      merged.unit_id = id;
      finished(std::move(merged));
    } else {
      for (const auto& [index, where] : located) {
        const auto part = load(index, where);
        pending.push_back({id, part.hash_a, part.hash_b, static_cast<std::int64_t>(index)});
      }
    }
  }
  return pending;
}

std::map<std::uint64_t, stages::UnitOutcome> gather_results(io::StoreContents& store, const std::filesystem::path& path,
                                                            std::span<const stages::ComparisonUnit> units,
                                                            std::uint64_t block_bytes) {
  clear_results(store);
  std::map<std::uint64_t, stages::UnitOutcome> unplanned;
  // Room for every unit's row: pages never written are never resident.
  store.stats.reserve(units.size() * stages::unit_stat_names().size());
  store.done_ids.reserve(units.size());
  store.hash_a.reserve(units.size());
  store.hash_b.reserve(units.size());
  (void)read_journaled_work(path, units, block_bytes, [&](stages::UnitOutcome&& o) {
    if (o.unit_id < units.size()) {
      append_result(store, std::move(o));
    } else {
      const auto id = o.unit_id;
      unplanned.emplace(id, std::move(o));
    }
  });
  order_results_by_unit(store);
  return unplanned;
}

std::uint64_t row_block_bytes_of(const std::optional<std::string>& setting) {
  return setting ? whole_number_of(*setting, "LINEAGE_ROW_BLOCK_BYTES", 1) : stages::kRowBlockBytes;
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
    it->second.unit_id = it->first;
    append_result(store, std::move(it->second));
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
