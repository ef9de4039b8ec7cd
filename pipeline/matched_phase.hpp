#pragma once
/// @file matched_phase.hpp
/// Moved experts in `compare` (issue 10, stages/plan/matched_experts.hpp), in two collective
/// steps around the pass, so that a moved expert is read once, at its match:
///
/// 1. Before the pass (phase "sketch"): every rank sketches a share of the routed experts' down
///    projections (16 rows each); rank 0 matches them layer by layer and broadcasts the moves;
///    every rank appends the moves' matched_expert units to the run (ids after the planned ones)
///    and defers the same-key units they cover: the pass does not compute them.
/// 2. After the pass (phase "match"): rank 0 finds, from every projection's sketch, the moves the
///    first matching missed, and which deferred units the matched units' own statistics make
///    unnecessary (superseded: the verdict judges their expert at its match). The other deferred
///    units and the new moves' matched units run through cluster/unit_executor like the pass's:
///    journaled, resumable, each computed whole by one rank, so the store does not depend on the
///    rank count.
///
/// Both steps are deterministic functions of the files and the pass's results, so a resumed run
/// plans the same units with the same ids and takes the finished ones from the journals.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/communicator.hpp"
#include "cluster/unit_executor.hpp"
#include "core/run_config.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/matched_experts.hpp"
#include "stages/plan/run_plan.hpp"

namespace lineage::pipeline {

struct MatchedPhaseOptions {
  std::string session;                                 ///< this run's session (journal file names)
  std::function<void(std::string_view phase)> inject;  ///< LINEAGE_FAULT at the start of a phase
  std::ostream* out = nullptr;                         ///< rank 0's summary lines; null: quiet
  /// Testing aid (LINEAGE_TEST_MOVES_AFTER_PASS): text layers whose moves step 1 drops, so that
  /// step 2 finds them (the synthetic pairs never leave it a move otherwise).
  std::set<int> layers_after_pass;
};

/// What step 1 added to the run.
struct MovesBeforePass {
  std::size_t planned = 0;                ///< the run's units before the matched ones
  std::vector<stages::ExpertMove> moves;  ///< from the down projections' sketches
  std::vector<std::uint64_t> deferred;    ///< same-key units the pass leaves out, ascending
};

/// Step 1, collective over `comm`: appends the matched_expert units of the moves to `run` (on
/// every rank alike) and returns the deferred same-key units.
[[nodiscard]] MovesBeforePass match_experts_before_pass(const cluster::Communicator& comm, stages::RunPlan& run,
                                                        const MatchedPhaseOptions& options);

/// What step 2 did.
struct MovesAfterPass {
  std::optional<cluster::UnitExecution> execution;  ///< nullopt (on every rank) when nothing was computed
  std::vector<std::uint64_t> superseded;            ///< deferred units never to compute, ascending (every rank)
};

/// Step 2, collective over `comm`. Rank 0's `store` holds the results the gather read from the
/// journals after the pass (gather_results) and `done` the journaled outcomes of units past `run`'s
/// (a resumed run's matched units; other ranks pass an empty map); nothing is decided unless every
/// unit of `run` has results or is deferred. Appends the new matched units to `run` and, on rank 0,
/// to `store.units` and its plan; rank 0's `store.superseded_ids` must be empty (the step decides
/// them).
[[nodiscard]] MovesAfterPass run_matched_experts(const cluster::Communicator& comm, const RunConfig& config,
                                                 stages::RunPlan& run, const MovesBeforePass& before,
                                                 std::map<std::uint64_t, stages::UnitOutcome>& done,
                                                 io::StoreContents& store,
                                                 const cluster::UnitExecutorOptions& exec_options,
                                                 const MatchedPhaseOptions& options);

}  // namespace lineage::pipeline
