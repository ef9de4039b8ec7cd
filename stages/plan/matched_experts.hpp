#pragma once
/// @file matched_experts.hpp
/// Moved experts in `compare` (issue 10, docs/methods.md "From the experts' own weights"): the
/// sketch matchings of the routed experts (stages/verdict/sketch_evidence) say which expert of
/// the other model each suspect expert is. Where a layer's matching is significant and moves an
/// expert (suspect expert i matched to the other's j != i), the `matched_expert` units compare i
/// against j projection by projection, with the exact statistics of a same-key unit; the verdict
/// reads them in place of the same-key units of the moved experts
/// (stages/verdict/matched_expert_verdict.hpp).
///
/// The moves are found twice (pipeline/matched_phase.hpp): before the pass from the down
/// projections' sketches alone (16 rows of each), so that a moved expert is read once, at its
/// match, and its same-key units are deferred; after the pass from every projection's sketch,
/// for moves the first matching missed.
///
/// Two steps each time, so that the ranks agree without exchanging units: the moves need the
/// sketches (rank 0 has them) and are a few integers to broadcast; the units are then built from
/// the moves and the run's own unit list on every rank alike. Both are deterministic, so a
/// resumed run plans the same units with the same ids.

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/align/sketch_matching.hpp"
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
/// @param[in] sketches  by unit id, both sides' sketches as the pass computed them (taken over)
/// @param[in] null      how much of each layer's relabelling null to compute (kMovePlanningNull
///                      before the pass; the verdict's full null after it)
[[nodiscard]] std::vector<ExpertMove> expert_moves(std::span<const ComparisonUnit> units, io::UnitRows<float> sketches,
                                                   double alpha = kMatchedExpertAlpha, const SketchNull& null = {});
/// The same moves from a store's units and sketches (every sketch of one of its units): rank 0's
/// store after the pass, read where it lies instead of recorded again from the plan's units.
[[nodiscard]] std::vector<ExpertMove> expert_moves(const io::StoreContents& store, double alpha = kMatchedExpertAlpha,
                                                   const SketchNull& null = {});

/// The units whose sketches plan the moves before the pass: the sketched down projections of
/// routed experts (same_key and expert_sketch units). A down projection's sketch reads kSketchDims
/// of its rows (hidden is its row axis), a small share of its bytes; gate and up hold the hidden
/// axis in their columns, and sketching those would touch every page.
[[nodiscard]] std::vector<std::uint64_t> move_sketch_units(std::span<const ComparisonUnit> units);

/// The same-key units the pass need not compute yet because matched_expert units (ids >=
/// `planned`) cover both of their sides: the suspect's expert projection is compared at its match,
/// and the other model's same projection is the match of some suspect expert. Each side's sketch
/// then still comes from a computed unit. Ascending ids.
[[nodiscard]] std::vector<std::uint64_t> deferred_same_key_units(std::span<const ComparisonUnit> units,
                                                                 std::size_t planned);

/// Of `deferred` (deferred_same_key_units), the units whose suspect expert the verdict judges at
/// its match: `confirmed` holds, per (suspect model, other model), the (layer, expert) pairs whose
/// matched units confirm the move (stages/verdict/store_verdicts.hpp confirmed_expert_moves).
[[nodiscard]] std::vector<std::uint64_t> superseded_units(
    std::span<const ComparisonUnit> units, const std::vector<std::uint64_t>& deferred,
    const std::map<std::pair<int, int>, std::set<std::pair<int, int>>>& confirmed);

/// The matched_expert units of `moves`: per move, one unit per weight projection both experts
/// have with the same shape, suspect expert against the other's matched expert, ids following
/// units.size(). The views come from the planned units (same-key and expert_sketch units hold
/// every expert's view of both models). Throws InternalError when a move names an expert no
/// planned unit holds.
[[nodiscard]] std::vector<ComparisonUnit> matched_expert_units(std::span<const ComparisonUnit> units,
                                                               const std::vector<ExpertMove>& moves);

}  // namespace lineage::stages
