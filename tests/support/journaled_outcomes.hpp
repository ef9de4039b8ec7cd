#pragma once
// The outcomes a run's journal holds, collected by unit id (pipeline::read_journaled_work calls
// back once per finished unit): what tests compare against execute_unit.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <vector>

#include "cluster/unit_executor.hpp"
#include "pipeline/journaled_work.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::testing {

struct JournaledOutcomes {
  std::map<std::uint64_t, stages::UnitOutcome> done;
  std::vector<cluster::JournaledHashes> pending_blocks;
};

inline JournaledOutcomes journaled_outcomes(const std::filesystem::path& store,
                                            std::span<const stages::ComparisonUnit> units, std::uint64_t block_bytes) {
  JournaledOutcomes out;
  out.pending_blocks = pipeline::read_journaled_work(store, units, block_bytes, [&](stages::UnitOutcome&& o) {
    const auto id = o.unit_id;
    // Each unit once: a second call for a unit would mean the first record no longer wins.
    if (!out.done.emplace(id, std::move(o)).second) ADD_FAILURE() << "unit " << id << " passed twice";
  });
  return out;
}

}  // namespace lineage::testing
