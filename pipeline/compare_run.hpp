#pragma once
/// @file compare_run.hpp
/// The distributed weight comparison (`lineage compare`): inventories -> pair -> plan ->
/// per-rank journaled compare -> store on rank 0 -> verdict. Every rank runs the same
/// deterministic front half; the plan assigns each unit to one rank; results reach the store only
/// through the journal, so a run killed at any moment resumes by recomputing only missing units.

#include <iosfwd>

#include "cluster/communicator.hpp"
#include "core/run_config.hpp"

namespace lineage::pipeline {

/// Exit code of a run stopped by SIGTERM/SIGUSR1/SIGINT after a clean checkpoint (resumable).
inline constexpr int kExitStoppedResumable = 7;

/// Collective over `comm`. Returns the process exit code (same on every rank).
int run_compare(const RunConfig& config, const cluster::Communicator& comm, std::ostream& out);

}  // namespace lineage::pipeline
