#pragma once
/// @file layer_profile.hpp
/// The per-unit evidence of one pair arranged for pictures (`lineage report`): per role and
/// layer the statistics and their null, per role a suspect-layer x other-layer grid, and per
/// verdict component the tested units' h. Means over a layer's experts only; nothing is tested
/// here (the verdict is stages/verdict/verdict.hpp's).

#include <map>
#include <string>
#include <vector>

#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// Role group: a key without its layer and expert ("text/attn_q", "text/routed_expert/up").
[[nodiscard]] std::string role_group(const TensorKey& key);

/// One role group's same-key (and sub-matrix) units by suspect layer, means over experts; NaN
/// where no unit of the layer has a finite value.
struct RoleLayers {
  std::string group;
  std::string component;    ///< verdict component of the group
  std::vector<int> layers;  ///< ascending
  std::vector<double> hidden_corr, null_mean, null_sd, pearson, cosine;
};
/// Groups with at least one per-layer unit, in key order.
[[nodiscard]] std::vector<RoleLayers> role_layers(const EvidenceList& units);

/// One role group's units by (suspect layer, other layer): same-key units on the diagonal,
/// cross-layer baselines off it. Row-major suspect_layers x other_layers, NaN where no unit.
struct LayerGrid {
  std::string group;
  int suspect_layers = 0, other_layers = 0;
  std::vector<double> cosine, pearson;
};
[[nodiscard]] std::vector<LayerGrid> layer_grids(const EvidenceList& units);

/// h of every same-key or sub-matrix unit with a permutation null, by verdict component.
[[nodiscard]] std::map<std::string, std::vector<double>> hidden_corr_by_component(const EvidenceList& units);

}  // namespace lineage::stages
