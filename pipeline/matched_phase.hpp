#pragma once
/// @file matched_phase.hpp
/// The second phase of `compare` (issue 10): after the pass, the moved experts' matched_expert
/// units (stages/plan/matched_experts.hpp) are planned and run through cluster/unit_executor
/// like the pass's units: journaled, resumable, each unit computed whole by one rank, so the
/// store does not depend on the rank count. Rank 0 computes the moves from the journaled
/// sketches and broadcasts them; every rank builds the same units from them, with the ids after
/// the planned ones. A resumed run plans the same units (the moves depend only on the pass's
/// results) and takes the finished ones from the journals after re-hashing them.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/communicator.hpp"
#include "cluster/unit_executor.hpp"
#include "core/run_config.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/run_plan.hpp"

namespace lineage::pipeline {

struct MatchedPhaseOptions {
  std::string session;                                 ///< this run's session (journal file names)
  std::function<void(std::string_view phase)> inject;  ///< LINEAGE_FAULT at the start of a phase
  std::ostream* out = nullptr;                         ///< rank 0's summary line; null: quiet
};

/// Collective over `comm`. `done` (rank 0's; other ranks pass an empty map) holds the journaled
/// outcomes after the pass; the moves are planned only when every planned unit of `run` is in it.
/// Appends the matched_expert units to `run` and, on rank 0, to `store.units` and its plan.
/// @return the execution of the matched units; nullopt (on every rank) when none were planned
[[nodiscard]] std::optional<cluster::UnitExecution> run_matched_experts(
    const cluster::Communicator& comm, const RunConfig& config, stages::RunPlan& run,
    const std::map<std::uint64_t, stages::UnitOutcome>& done, io::StoreContents& store,
    const cluster::UnitExecutorOptions& exec_options, const MatchedPhaseOptions& options);

}  // namespace lineage::pipeline
