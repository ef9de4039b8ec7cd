#include "pipeline/matched_phase.hpp"

#include <algorithm>
#include <memory>
#include <ostream>
#include <set>
#include <tuple>
#include <utility>

#include "cluster/phase.hpp"
#include "core/byte_record.hpp"
#include "core/errors.hpp"
#include "core/terminal_stream.hpp"
#include "io/journal/journal.hpp"
#include "io/unit_rows.hpp"
#include "pipeline/journaled_work.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/plan/shard_plan.hpp"
#include "stages/plan/work_plan.hpp"
#include "stages/verdict/store_verdicts.hpp"

namespace lineage::pipeline {
namespace {

/// The sketch of one side whose sketch reads whole rows: those rows copied by pread, 16 small
/// reads instead of 16 page faults (which cost several times more on some virtual machines).
std::vector<float> sketch_by_rows(const stages::ElementView& view, const std::vector<std::uint64_t>& rows,
                                  cluster::UnitBytes& bytes, std::vector<std::byte>& gathered) {
  auto& file = bytes.file(view);
  const auto [first, last] = cluster::UnitBytes::range(view);
  (void)file.range(first, last);  // the tensor inside the file, as long as it is now (one check)
  const auto row_bytes = view.cols * dtype_size(view.dtype);
  gathered.resize(rows.size() * row_bytes);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto [begin, end] = cluster::UnitBytes::rows_range(view, rows[i], 1);
    file.read_into(begin, end, gathered.data() + i * row_bytes);
  }
  return stages::sketch_from_rows(view, gathered);
}

/// This rank's share of `ids` (every size-th from its rank: the units are alike in cost), sketched
/// and serialised as (id, side A, side B) records.
std::vector<std::byte> sketch_share(const stages::RunPlan& run, const std::vector<std::uint64_t>& ids, int rank,
                                    int size) {
  std::vector<std::byte> out;
  // Reserved whole: a deep MoE pair's record is tens of megabytes, and the buffers a growing one
  // leaves behind stay in the heap.
  const auto own_ids = (ids.size() + static_cast<std::size_t>(size - 1 - rank)) / static_cast<std::size_t>(size);
  out.reserve(own_ids * (3 * sizeof(std::uint64_t) + 2 * stages::kSketchWidth * sizeof(float)));
  cluster::UnitBytes bytes(run.models);
  std::vector<std::byte> gathered;
  for (auto i = static_cast<std::size_t>(rank); i < ids.size(); i += static_cast<std::size_t>(size)) {
    const auto& u = bytes.with_scales(run.units()[ids[i]]);
    const auto rows_a = stages::sketch_rows(u, u.a), rows_b = stages::sketch_rows(u, u.b);
    const auto [a, b] = !rows_a.empty() && !rows_b.empty() ? std::pair{sketch_by_rows(u.a, rows_a, bytes, gathered),
                                                                       sketch_by_rows(u.b, rows_b, bytes, gathered)}
                                                           : stages::unit_sketches(u, bytes.of(u.a), bytes.of(u.b));
    if (a.empty() || b.empty()) continue;
    append_value(out, ids[i]);
    append_vector(out, a);
    append_vector(out, b);
  }
  return out;
}

}  // namespace

MovesBeforePass match_experts_before_pass(const cluster::Communicator& comm, stages::RunPlan& run,
                                          const MatchedPhaseOptions& options) {
  const bool root = comm.is_root();
  const auto own = cluster::PhaseCategory::own();
  MovesBeforePass result;
  result.planned = run.units().size();
  const auto ids = stages::move_sketch_units(run.units());
  if (ids.empty()) return result;
  auto share = cluster::run_phase(comm, "sketch", own, [&] {
    if (options.inject) options.inject("sketch");
    return sketch_share(run, ids, comm.rank(), comm.size());
  });
  // Rank 0's share is moved into what it gathers, not copied; the other ranks' go once sent.
  auto shares = comm.gather(std::exchange(share, {}), 0);
  result.moves = cluster::run_phase(comm, "sketch", own, [&] {
    std::vector<stages::ExpertMove> moves;
    if (!root) return moves;
    io::UnitRows<float> sketches;
    for (auto& s : shares) {
      ByteRecordReader r(s, "matched phase: a rank's sketch record");
      while (!r.at_end()) {
        const auto id = r.value<std::uint64_t>();
        const auto a = r.vector<float>();
        const auto b = r.vector<float>();
        if (!sketches.contains(id)) sketches.put(id, a, b);
      }
      std::vector<std::byte>().swap(s);  // read: its bytes are in `sketches` now
    }
    moves =
        stages::expert_moves(run.units(), std::move(sketches), stages::kMatchedExpertAlpha, stages::kMovePlanningNull);
    // Rank 0's setting of the testing aid decides for every rank (the broadcast below).
    std::erase_if(moves, [&](const auto& m) { return options.layers_after_pass.count(m.layer) > 0; });
    return moves;
  });
  comm.broadcast_records(result.moves, 0);
  if (result.moves.empty()) return result;
  auto matched =
      cluster::run_phase(comm, "sketch", own, [&] { return stages::matched_expert_units(run.units(), result.moves); });
  run.pairs.units.reserve(run.pairs.units.size() + matched.size());  // one buffer, not a doubled one
  for (auto& u : matched) run.pairs.units.push_back(std::move(u));
  result.deferred = stages::deferred_same_key_units(run.units(), result.planned);
  if (root && options.out) {
    *options.out << "lineage compare: " << result.moves.size()
                 << " experts moved by the down projections' sketches: " << run.units().size() - result.planned
                 << " matched_expert units planned, " << result.deferred.size() << " same-key units deferred\n";
  }
  return result;
}

MovesAfterPass run_matched_experts(const cluster::Communicator& comm, const RunConfig& config, stages::RunPlan& run,
                                   const MovesBeforePass& before, std::map<std::uint64_t, stages::UnitOutcome>& done,
                                   io::StoreContents& store, const cluster::UnitExecutorOptions& exec_options,
                                   const MatchedPhaseOptions& options) {
  const bool root = comm.is_root();
  const auto own = cluster::PhaseCategory::own();
  const auto planned = run.units().size();
  const auto inject = [&](std::string_view phase) {
    if (options.inject) options.inject(phase);
  };
  const auto deferred = [&](std::uint64_t id) {
    return std::binary_search(before.deferred.begin(), before.deferred.end(), id);
  };
  MovesAfterPass result;
  // Rank 0 decides from the pass's results: the moves every projection's sketches add, and the
  // deferred units whose expert the verdict will judge at its match.
  std::vector<stages::ExpertMove> moves;
  const bool decided = cluster::run_phase(comm, "match", own, [&] {
    inject("match");
    if (!root) return false;
    // Not before the pass is complete: a resumed run decides.
    for (std::uint64_t id = 0; id < planned; ++id) {
      if (!has_result(store, done, id) && !deferred(id)) return false;
    }
    // The moves planned before the pass stand: a suspect expert or a target they already use is
    // left to them, so no expert gets matched units against two partners.
    std::set<std::tuple<int, int, int>> suspect_used, target_used;
    for (const auto& m : before.moves) {
      suspect_used.emplace(m.other_model, m.layer, m.suspect_expert);
      target_used.emplace(m.other_model, m.layer, m.other_expert);
    }
    // The store's units are the run's (recorded at the pre-flight), its sketches the pass's.
    for (const auto& m : stages::expert_moves(store)) {
      if (suspect_used.count({m.other_model, m.layer, m.suspect_expert}) ||
          target_used.count({m.other_model, m.layer, m.other_expert}))
        continue;
      moves.push_back(m);
    }
    if (before.deferred.empty()) return true;
    // Which moves the verdict will judge at their match (no unit is superseded yet).
    std::map<std::pair<int, int>, std::set<std::pair<int, int>>> judged;
    for (const auto& [pair, experts] : stages::moves_judged_at_match(store)) judged[pair] = experts;
    // Deferred units a resumed run finds in its journals keep their results.
    std::vector<std::uint64_t> not_done;
    for (const auto id : before.deferred) {
      if (!has_result(store, done, id)) not_done.push_back(id);
    }
    result.superseded = stages::superseded_units(run.units(), not_done, judged);
    return true;
  });
  const std::byte flag{static_cast<unsigned char>(decided ? 1 : 0)};
  if (comm.broadcast({&flag, 1}, 0).at(0) != std::byte{1}) return result;
  comm.broadcast_records(moves, 0);
  comm.broadcast_records(result.superseded, 0);
  auto matched = cluster::run_phase(comm, "match", own, [&] {
    return moves.empty() ? std::vector<stages::ComparisonUnit>{} : stages::matched_expert_units(run.units(), moves);
  });
  const auto matched_count = matched.size();
  run.pairs.units.reserve(run.pairs.units.size() + matched_count);
  for (auto& u : matched) run.pairs.units.push_back(std::move(u));
  const auto& units = run.units();

  // New matched units an earlier run finished: still hashing as they did (as the pass's are).
  std::vector<cluster::JournaledHashes> journaled;
  if (root) {
    for (auto it = done.lower_bound(planned); it != done.end() && it->first < units.size(); ++it) {
      journaled.push_back({it->first, it->second.hash_a, it->second.hash_b});
    }
  }
  comm.broadcast_records(journaled, 0);
  if (!journaled.empty()) {
    cluster::run_phase(comm, "recheck", own, [&] {
      inject("recheck");
      cluster::recheck_journaled_units(comm, config.out, run, journaled, exec_options.null,
                                       exec_options.row_block_bytes, exec_options.reading_files);
    });
  }
  // Every rank knows the deferred units and the superseded ones; rank 0 knows which are done.
  std::vector<std::uint64_t> todo_ids;
  if (root) {
    for (const auto id : before.deferred) {
      if (!has_result(store, done, id) && !std::binary_search(result.superseded.begin(), result.superseded.end(), id))
        todo_ids.push_back(id);
    }
    for (auto id = planned; id < units.size(); ++id) {
      if (!has_result(store, done, id)) todo_ids.push_back(id);
    }
  }
  comm.broadcast_records(todo_ids, 0);
  if (root && options.out && !before.deferred.empty()) {
    *options.out << "lineage compare: " << result.superseded.size() << " of " << before.deferred.size()
                 << " deferred same-key units superseded by confirmed moves\n";
  }
  if (root && options.out && matched_count > 0) {
    *options.out << "lineage compare: " << matched_count << " matched_expert units for " << moves.size()
                 << " more moved experts, " << journaled.size() << " already done\n";
  }
  if (matched_count > 0) {
    cluster::run_phase(comm, "journal", cluster::PhaseCategory::always(ExitCode::store), [&] {
      inject("journal");
      if (!root) return;
      store.units = stages::stored_units(units);
      store.plan_rank_of_unit.resize(units.size(), -1);
    });
  }
  if (todo_ids.empty()) return result;
  std::vector<stages::UnitCost> todo;
  todo.reserve(todo_ids.size());
  for (const auto id : todo_ids) todo.push_back({id, units[id].bytes()});
  const auto plan = stages::plan_shards(todo, comm.size());
  const auto store_phase = cluster::PhaseCategory::always(ExitCode::store);
  cluster::run_phase(comm, "journal", store_phase, [&] {
    inject("journal");
    if (!root) return;
    store.plan_rank_of_unit.resize(units.size(), -1);
    for (std::size_t r = 0; r < plan.units_of_rank.size(); ++r) {
      for (auto id : plan.units_of_rank[r]) store.plan_rank_of_unit[id] = static_cast<std::int32_t>(r);
    }
  });
  auto journal = cluster::run_phase(comm, "journal", store_phase, [&] {
    return std::make_unique<io::JournalWriter>(io::rank_journal_path(config.out, comm.rank(), options.session + "-m"));
  });
  // These units run whole, each on one rank (execute_unit still cuts one over the row block size
  // into blocks and merges them, so its outcome is what a split run would give).
  result.execution = cluster::execute_units(comm, run, stages::whole_unit_work(units, plan), std::move(journal),
                                            exec_options, raw_stderr());
  return result;
}

}  // namespace lineage::pipeline
