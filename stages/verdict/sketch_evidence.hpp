#pragma once
/// @file sketch_evidence.hpp
/// Expert matching from the per-expert sketches of a result store (stages/align/sketch_matching),
/// per layer of a model pair, combined with the router rows where both routers were kept whole:
/// the agreement of the two matchings (METHODS §5.3) and the router rows reordered by the
/// sketch matching.

#include <string>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/align/sketch_matching.hpp"

namespace lineage::stages {

struct LayerSketchMatching {
  int layer = -1;
  std::vector<std::string> projections;  ///< the projections whose sketches were compared
  SketchMatching matching;
  /// Router rows (both routers kept whole with one row per expert), else has_router false.
  bool has_router = false;
  std::vector<int> router_match;  ///< the router rows' own matching (stages/align/expert_matching)
  int router_agreement = 0;       ///< suspect experts both matchings send to the same expert
  double router_agreement_p = 1;  ///< P(Poisson(1) >= agreement)
  double router_in_place = 0;     ///< mean correlation of router rows at the same index
  double router_reordered = 0;    ///< mean correlation of router rows reordered by the sketch matching
};

/// Per text layer where both models have sketches of at least two experts with a common set of
/// projections; layers ascending. `null`: how much of each layer's relabelling null to compute
/// (the verdict's default: all of it).
[[nodiscard]] std::vector<LayerSketchMatching> sketch_matchings(const io::StoreContents& store, int suspect, int other,
                                                                const SketchNull& null = {});

}  // namespace lineage::stages
