#pragma once
/// @file matched_expert_verdict.hpp
/// How the verdict uses the matched_expert units (stages/plan/matched_experts.hpp): where the
/// sketch matching moved a suspect expert to another index of the other model, the same-key
/// units of that expert compare it with an expert it is not; the matched_expert unit of each
/// projection can stand for them, judged by the same rubric as a same-key unit (h and g with
/// their permutation nulls).
///
/// A significant sketch matching alone does not make a move: every layer of one lineage shares
/// the hidden basis, so a repeated layer's experts match the other model's next layer better
/// than chance (trained depth up-scaling: p 7.5e-6, g about 0.6, h about 0; docs/methods.md).
/// A move stands only when the expert's own exact statistics at its match confirm it: a
/// projection byte-identical to it, an h test that would call the projection derived, or the
/// expert's neuron matching (gate, up and down agreeing, stages/verdict/neuron_evidence.hpp).
/// Unconfirmed moves leave the expert's same-key units in place.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// (layer, expert) of suspect routed experts.
using ExpertSet = std::set<std::pair<int, int>>;

/// The moved experts whose matched_expert units confirm the move: some projection is
/// byte-identical to the expert it was matched to, or its h test alone would be derived (p at
/// most rules.derived_p after Bonferroni over the matched units, h at least rules.min_effect),
/// or the expert is in `neuron_matched` (its neuron matching at the match is `matched`).
[[nodiscard]] ExpertSet confirmed_moves(const EvidenceList& units, const ExpertSet& neuron_matched,
                                        const VerdictRules& rules = {});

/// `units` with the matched_expert units of the `confirmed` experts judged as same-key units in
/// place of those experts' same-key and sub-matrix units; matched_expert units of other experts
/// are left out, and those experts keep their same-key units. Taken by value and filtered in
/// place: a caller done with its evidence moves it in.
[[nodiscard]] EvidenceList route_matched_experts(EvidenceList units, const ExpertSet& confirmed);

}  // namespace lineage::stages

namespace lineage::stages {

/// The `permuted` kind from the moves its own statistics confirm (`confirmed`, of `moved`):
/// appended to an existing `permuted` kind, or added to a derived pair without one, unless the
/// two models' expert counts differ (then `expert_pruned` carries the moves). `layer_p` gives
/// each layer's expert-matching p (the sketch matching that planned the moves); the kind's p is
/// the largest over the confirmed experts' layers. Never changes the class.
void add_moved_expert_evidence(PairVerdict& v, const ExpertSet& confirmed, const ExpertSet& moved,
                               const std::map<int, double>& layer_p, const PairLayout& layout);

}  // namespace lineage::stages
