#pragma once
/// @file run_plan.hpp
/// The first half of every run, built once: the run's models read into inventories, their
/// fingerprints, the comparison units and the digest of the unit list. `compare` executes it,
/// `plan` sizes it and `submit`'s pre-flight checks it, so all three see the same units.
///
/// Why stages/: the builder is a pure function of typed inputs (a RunConfig, a FamilyRegistry)
/// to a typed result, with no MPI; `compare` (pipeline/) runs it on every rank inside one phase of
/// the failure protocol, and the pre-flight check (jobs/, which sits beside pipeline/ and cannot
/// include it) calls it directly. stages/ is the lowest layer both can reach, and reading headers
/// through io/ is what stages/ may do.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/family_registry.hpp"
#include "core/run_config.hpp"
#include "io/model_source.hpp"
#include "io/store/result_store.hpp"
#include "stages/pair/pair_models.hpp"
#include "stages/plan/run_models.hpp"

namespace lineage::stages {

struct RunPlanOptions {
  /// Planning before a download (`lineage plan`): models may be read from config.json and the
  /// index, remote models by range requests, and the units are paired for their sizes only
  /// (they cannot be executed). Such models have no shard files to fingerprint, so a planning
  /// run has no fingerprints.
  bool planning_only = false;
  io::RemoteOptions remote;
  /// Called before each step ("load", then "pair") so that a run can fail there on purpose
  /// (LINEAGE_FAULT, docs/cli.md); what it throws leaves the builder unchanged.
  std::function<void(std::string_view step)> before_step;
};

struct RunPlan {
  std::vector<RunModel> models;  ///< suspect first, in run order
  /// One per model, in the same order (family and tensor count filled in); empty when planning.
  std::vector<io::StoredModel> fingerprints;
  PairResult pairs;
  /// UnitListDigest of the units: a resumed run must find the same.
  std::string digest;

  [[nodiscard]] const UnitList& units() const noexcept { return pairs.units; }
  /// Some unit compares a tensor of the suspect with its counterpart (not only baselines).
  [[nodiscard]] bool comparable() const noexcept;
  /// Bytes read by all units.
  [[nodiscard]] std::uint64_t bytes() const noexcept;
};

/// The digest of a unit list (a plan's units, and the units of a store being resumed): a 128-bit
/// XXH3 of every unit's two keys, field by field, in order. Text keys would say the same at ten
/// times the cost for 400k units.
class UnitListDigest {
 public:
  UnitListDigest();
  ~UnitListDigest();
  UnitListDigest(const UnitListDigest&) = delete;
  UnitListDigest& operator=(const UnitListDigest&) = delete;
  void add(const TensorKey& key_a, const TensorKey& key_b);
  /// 32 hex digits.
  [[nodiscard]] std::string hex() const;

 private:
  void* state_;  // XXH3_state_t, kept out of this header
};

/// The units as the result store records them (/units), in the same order.
[[nodiscard]] io::SpilledVector<io::StoredUnit> stored_units(std::span<const ComparisonUnit> units);

/// Loads the run's models (strictly, unless planning), fingerprints them and pairs them with the
/// run's baseline setting. Throws what load_run_models and pair_models throw.
[[nodiscard]] RunPlan build_run_plan(const RunConfig& config, const FamilyRegistry& registry,
                                     const RunPlanOptions& options = {});

}  // namespace lineage::stages
