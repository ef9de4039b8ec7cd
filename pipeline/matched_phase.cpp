#include "pipeline/matched_phase.hpp"

#include <memory>
#include <ostream>
#include <utility>

#include "cluster/phase.hpp"
#include "core/errors.hpp"
#include "core/terminal_stream.hpp"
#include "io/journal/journal.hpp"
#include "stages/plan/matched_experts.hpp"
#include "stages/plan/shard_plan.hpp"
#include "stages/plan/work_plan.hpp"

namespace lineage::pipeline {

std::optional<cluster::UnitExecution> run_matched_experts(const cluster::Communicator& comm, const RunConfig& config,
                                                          stages::RunPlan& run,
                                                          const std::map<std::uint64_t, stages::UnitOutcome>& done,
                                                          io::StoreContents& store,
                                                          const cluster::UnitExecutorOptions& exec_options,
                                                          const MatchedPhaseOptions& options) {
  const bool root = comm.is_root();
  const auto own = cluster::PhaseCategory::own();
  const auto planned = run.units().size();
  const auto inject = [&](std::string_view phase) {
    if (options.inject) options.inject(phase);
  };
  auto moves = cluster::run_phase(comm, "match", own, [&] {
    inject("match");
    std::vector<stages::ExpertMove> m;
    if (!root) return m;
    std::map<std::uint64_t, std::pair<std::vector<float>, std::vector<float>>> sketches;
    std::size_t finished = 0;
    for (const auto& [id, o] : done) {
      if (id >= planned) continue;
      ++finished;
      if (!o.sketch_a.empty()) sketches.emplace(id, std::pair{o.sketch_a, o.sketch_b});
    }
    if (finished != planned) return m;  // the pass is not complete: a resumed run plans them
    return stages::expert_moves(run.units(), sketches);
  });
  comm.broadcast_records(moves, 0);
  if (moves.empty()) return std::nullopt;
  auto matched =
      cluster::run_phase(comm, "match", own, [&] { return stages::matched_expert_units(run.units(), moves); });
  if (matched.empty()) return std::nullopt;
  const auto matched_count = matched.size();
  for (auto& u : matched) run.pairs.units.push_back(std::move(u));
  const auto& units = run.units();

  // Matched units an earlier run finished: still hashing as they did (as the pass's are).
  std::vector<cluster::JournaledHashes> journaled;
  if (root) {
    for (auto it = done.lower_bound(planned); it != done.end() && it->first < units.size(); ++it) {
      journaled.push_back({it->first, it->second.hash_a, it->second.hash_b});
    }
  }
  comm.broadcast_records(journaled, 0);
  std::vector<std::uint8_t> finished(units.size() - planned, 0);
  for (const auto& j : journaled) finished[j.unit_id - planned] = 1;
  if (!journaled.empty()) {
    cluster::run_phase(comm, "recheck", own, [&] {
      inject("recheck");
      cluster::recheck_journaled_units(comm, config.out, run, journaled, exec_options.null,
                                       exec_options.row_block_bytes, exec_options.reading_files);
    });
  }
  std::vector<stages::UnitCost> todo;
  for (auto id = planned; id < units.size(); ++id) {
    if (!finished[id - planned]) todo.push_back({id, units[id].bytes()});
  }
  const auto plan = stages::plan_shards(todo, comm.size());
  if (root && options.out) {
    *options.out << "lineage compare: " << matched_count << " matched_expert units for " << moves.size()
                 << " moved experts, " << journaled.size() << " already done\n";
  }
  const auto store_phase = cluster::PhaseCategory::always(ExitCode::store);
  cluster::run_phase(comm, "journal", store_phase, [&] {
    inject("journal");
    if (!root) return;
    store.units = stages::stored_units(units);
    store.plan_rank_of_unit.resize(units.size(), -1);
    for (std::size_t r = 0; r < plan.units_of_rank.size(); ++r) {
      for (auto id : plan.units_of_rank[r]) store.plan_rank_of_unit[id] = static_cast<std::int32_t>(r);
    }
  });
  auto journal = cluster::run_phase(comm, "journal", store_phase, [&] {
    return std::make_unique<io::JournalWriter>(io::rank_journal_path(config.out, comm.rank(), options.session + "-m"));
  });
  // Matched units run whole, each on one rank (execute_unit still cuts one over the row block
  // size into blocks and merges them, so its outcome is what a split run would give).
  return cluster::execute_units(comm, run, stages::whole_unit_work(units, plan), std::move(journal), exec_options,
                                raw_stderr());
}

}  // namespace lineage::pipeline
