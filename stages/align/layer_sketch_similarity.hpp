#pragma once
/// @file layer_sketch_similarity.hpp
/// Layer x layer similarity of one role family from the per-tensor sketches the compare pass
/// makes of every layer matrix (stages/execute/expert_sketch.hpp layer_sketched): every layer pair
/// across the two models and within each model, with no read beyond the pass (issue 10, METHODS
/// §5.8). A sketch is a covariance over a matrix's rows (neurons, heads) of hash-chosen hidden
/// columns, so a permutation of neurons or heads leaves it unchanged.
///
/// Per tensor (e.g. q, k, v, o of attention) and layer, a feature vector of the sketch:
/// - *raw*: its 120 correlations (off the diagonal), as they are;
/// - *centred*: its log variances less their mean over the 16 dimensions (the layer's overall
///   scale, which follows depth in every model, says nothing about which layer is which) beside
///   its correlations, each entry centred over the model's layers (what all layers share), then
///   scaled to unit length.
/// A cell is the mean over the family's tensors both layers have of the cosine of their features;
/// NaN where no tensor is shared, and on the diagonal of a within-model matrix (a layer is itself).
///
/// The null of one cell: the other model's (within a model: the second copy's) sketched hidden
/// dimensions relabelled consistently across its layers and tensors; under independence its
/// hidden labels are exchangeable, so every relabelling is as likely as the identity. The SD of
/// the cells under such relabellings floors the scale the layer alignment standardises by
/// (stages/align/layer_alignment.hpp LayerSimilarity::null_sd); the alignment's own p-values come
/// from its layer-shuffle null.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "stages/align/layer_alignment.hpp"

namespace lineage::stages {

/// One model's sketches of one role family: per tensor (its key without the layer), per layer,
/// kSketchWidth floats (empty: the layer has no such tensor or no sketch).
struct FamilySketches {
  int layers = 0;
  std::map<std::string, std::vector<std::vector<float>>> tensors;
  /// Sets one sketch, growing the layer list as needed.
  void set(const std::string& tensor, int layer, std::span<const float> sketch);
};

struct SketchSimilarityOptions {
  bool centred = true;
  int relabellings = 20;  ///< for the null SD of one cell
  std::uint64_t seed = 0x6c61796572736bULL;
};

/// Suspect layers (rows) x the other model's layers (columns). Tensors one side lacks are left out.
[[nodiscard]] LayerSimilarity sketch_layer_similarity(const FamilySketches& suspect, const FamilySketches& other,
                                                      const SketchSimilarityOptions& options = {});

/// One model's layers against its own; the diagonal is NaN.
[[nodiscard]] LayerSimilarity sketch_within_similarity(const FamilySketches& model,
                                                       const SketchSimilarityOptions& options = {});

/// The tensors both models have sketches of (names, ascending).
[[nodiscard]] std::vector<std::string> common_tensors(const FamilySketches& a, const FamilySketches& b);

}  // namespace lineage::stages
