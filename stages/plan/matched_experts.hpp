#pragma once
/// @file matched_experts.hpp
/// The second phase of `compare` (issue 10, docs/methods.md "From the experts' own weights"):
/// after the pass, the sketch matchings of the routed experts (stages/verdict/sketch_evidence)
/// say which expert of the other model each suspect expert is. Where a layer's matching is
/// significant and moves an expert (suspect expert i matched to the other's j != i), the
/// `matched_expert` units compare i against j projection by projection, with the exact
/// statistics of a same-key unit; the verdict reads them in place of the same-key units of the
/// moved experts (stages/verdict/matched_expert_verdict.hpp).
///
/// Two steps, so that the ranks agree without exchanging units: the moves need the pass's
/// sketches (rank 0 has them, from the journals) and are a few integers to broadcast; the units
/// are then built from the moves and the run's own unit list on every rank alike. Both are
/// deterministic, so a resumed run plans the same units with the same ids.

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

/// A layer's sketch matching p-value at or below this plans matched units (the matching's null
/// has 100 relabellings and a normal tail beyond them; independent models stay far above).
inline constexpr double kMatchedExpertAlpha = 1e-3;

/// One suspect expert matched to another index in the other model.
struct ExpertMove {
  std::int32_t other_model = 1;
  std::int32_t layer = -1;
  std::int32_t suspect_expert = -1;
  std::int32_t other_expert = -1;
  friend bool operator==(const ExpertMove&, const ExpertMove&) = default;
};

/// The moves of every layer, suspect (model 0) against each other model, whose sketch matching
/// has p <= alpha: the suspect experts matched to another index (in-place and unmatched experts
/// are no moves). Ordered by other model, layer, suspect expert.
/// @param[in] units     the run's planned units (ids = positions)
/// @param[in] sketches  unit id -> both sides' sketches, as the pass computed them
[[nodiscard]] std::vector<ExpertMove> expert_moves(
    const std::vector<ComparisonUnit>& units,
    const std::map<std::uint64_t, std::pair<std::vector<float>, std::vector<float>>>& sketches,
    double alpha = kMatchedExpertAlpha);

/// The matched_expert units of `moves`: per move, one unit per weight projection both experts
/// have with the same shape, suspect expert against the other's matched expert, ids following
/// units.size(). The views come from the planned units (same-key and expert_sketch units hold
/// every expert's view of both models). Throws InternalError when a move names an expert no
/// planned unit holds.
[[nodiscard]] std::vector<ComparisonUnit> matched_expert_units(const std::vector<ComparisonUnit>& units,
                                                               const std::vector<ExpertMove>& moves);

}  // namespace lineage::stages
