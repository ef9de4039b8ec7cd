#pragma once
/// @file matched_expert_verdict.hpp
/// How the verdict uses the matched_expert units (stages/plan/matched_experts.hpp): where the
/// sketch matching moved a suspect expert to another index of the other model, the same-key
/// units of that expert compare it with an expert it is not; the matched_expert unit of each
/// projection stands for them, judged by the same rubric as a same-key unit (h and g with their
/// permutation nulls). Experts matched in place keep their same-key units.

#include <vector>

#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// `units` with every matched_expert unit judged as a same-key unit and the same-key and
/// sub-matrix units of the keys they stand for (the suspect's expert projection) left out.
[[nodiscard]] std::vector<UnitEvidence> route_matched_experts(const std::vector<UnitEvidence>& units);

}  // namespace lineage::stages
