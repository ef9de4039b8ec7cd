#pragma once
/// @file layer_alignment.hpp
/// Which layer of one model is which layer of the other (METHODS §5.8), from a layer x layer
/// similarity matrix of one role family (suspect layers x other model's layers).
///
/// Cells are standardised by the matrix itself: centred on the median of the stored cells (what
/// every layer pair shares, e.g. the depth profile all norm vectors have) and scaled by their
/// robust spread (1.4826 MAD), never below the permutation null's SD of one cell. Then:
/// - *Alignment rate*: each suspect layer's best-matching layer, and the share of suspect layers
///   whose best match sits at one constant offset (0 for models of one depth); the margin of
///   each best match over the row's second best.
/// - *Layer map*: the alignment that maximises the summed scores z - min_z over matched layers
///   (unrelated cells score negative, so they are left unmatched: gaps cost nothing), monotone
///   with repeats (a suspect layer may map to the same layer as the one before it: depth
///   up-scaling repeats layers) and gaps (layers of either model left out: pruning), and with
///   restarts (a map that jumps back, as SOLAR's two copies of one stack do) at a penalty each.
///   Dynamic programming, O(L_a L_b).
/// - Both are judged by a layer-shuffle null: the same statistic after relabelling the other
///   model's layers at random (fixed seed, so every run gives the same p); p = (1 + as many or
///   more) / (shuffles + 1). A relabelling keeps every cell's value and destroys only the order,
///   so the p-values say the order was kept. A model of L layers cannot reach p below 1 / L!.
/// Missing cells (layer pairs the store has no unit for) are NaN, never matched, and counted.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lineage::stages {

/// One role family's similarity of the suspect's layers (rows) to the other model's (columns).
struct LayerSimilarity {
  int suspect_layers = 0;
  int other_layers = 0;
  std::vector<double> value;  ///< row-major [suspect_layers, other_layers]; NaN where not stored
  double null_sd = 0;         ///< the permutation null's SD of one cell (0: none); floors the scale
  [[nodiscard]] double at(int suspect, int other) const;
};

struct LayerAlignmentRules {
  double min_z = 3.0;            ///< a cell counts towards the map only above this many SDs (METHODS §5.8 τ)
  double restart_penalty = 3.0;  ///< in SDs: the map may jump back (a repeated block) at this cost
  int shuffles = 1000;
  double claim_p = 0.01;  ///< the map is claimed when its layer-shuffle p is at most this
  std::uint64_t seed = 0x6c617965726d6170ULL;
};

struct LayerAlignment {
  int suspect_layers = 0;
  int other_layers = 0;
  std::size_t cells_stored = 0;
  std::size_t cells_missing = 0;
  std::vector<std::uint8_t> stored;  ///< row-major: 1 where the cell was stored
  double centre = 0;                 ///< median of the stored cells
  double scale = 0;                  ///< max(1.4826 MAD, null SD)
  // Best match per suspect layer (-1: fewer than two stored cells in the row, nothing to compare).
  std::vector<int> best_match;
  std::vector<double> margin_sds;  ///< best minus second best, in scale units (NaN: no best match)
  int offset = 0;                  ///< the constant offset (other = suspect + offset) most best matches take
  double alignment_rate = 0;       ///< share of suspect layers with a best match whose best match is at that offset
  double alignment_p = 1;          ///< layer-shuffle p of the rate
  // The monotone map with repeats, gaps and restarts.
  std::vector<int> layer_map;        ///< per suspect layer, the other's layer (-1: unmatched)
  std::vector<int> unmatched_other;  ///< the other model's layers no suspect layer took
  std::vector<int> repeated_other;   ///< the other model's layers more than one suspect layer took
  int segments = 0;                  ///< monotone runs of the map (1 without restarts)
  double map_score = 0;              ///< sum over matched layers of z - min_z, minus the restarts' penalties
  double map_p = 1;                  ///< layer-shuffle p of the score
  bool claimed = false;              ///< some layer matched and map_p <= claim_p
};

/// Standardised scores (z) of the stored cells; NaN where missing. Exposed for tests.
[[nodiscard]] std::vector<double> layer_scores(const LayerSimilarity& s, double& centre, double& scale);

/// The best monotone map (with repeats, gaps and restarts) of standardised scores z
/// (row-major [rows, cols], NaN never matched) and its score.
[[nodiscard]] std::vector<int> monotone_layer_map(const std::vector<double>& z, int rows, int cols,
                                                  const LayerAlignmentRules& rules, double& score);

[[nodiscard]] LayerAlignment align_layers(const LayerSimilarity& s, const LayerAlignmentRules& rules = {});

/// One layer x layer matrix and its alignment.
struct AlignedLayerMatrix {
  LayerSimilarity similarity;
  LayerAlignment alignment;
};

/// A matrix role family's layer x layer matrices from the sketches of its layer matrices
/// (stages/align/layer_sketch_similarity.hpp): every layer pair, across the pair and within each model.
struct FamilySketchAlignment {
  std::vector<std::string> tensors;   ///< the tensors (keys without layer) both models have sketches of
  AlignedLayerMatrix raw, centred;    ///< suspect x other
  AlignedLayerMatrix within_suspect;  ///< the suspect's layers against its own (centred; diagonal not compared)
  AlignedLayerMatrix within_other;    ///< the other model's layers against its own (centred)
  /// The same within a model on the raw features: what every layer shares (the sketch's common
  /// correlations) is not centred away, so it lifts every cell alike.
  AlignedLayerMatrix within_suspect_raw, within_other_raw;
};

/// One role family's alignment of a pair, on two statistics per cell.
struct FamilyLayerAlignment {
  std::string family;      ///< norms, attention (q/k/v/o), routers, shared_experts, dense_mlp
  std::string statistic;   ///< what the centred matrix holds (h: the permutation test's centred correlation)
  LayerAlignment raw;      ///< on the raw cosine of each cell's units
  LayerAlignment centred;  ///< on h, which removes each vector's mean (what every layer shares)
  /// Matrix roles: the full matrices from the pass's sketches (stages/verdict/layer_sketch_evidence.hpp).
  std::optional<FamilySketchAlignment> sketches;
  /// Norms: each model's layers against its own, from the pass's `within` units
  /// (stages/verdict/layer_alignment_evidence.hpp add_norm_within_alignments): centred (Pearson)
  /// and raw (the raw cosine, near 1 for every pair because norm weights start at 1).
  std::optional<AlignedLayerMatrix> within_suspect, within_other;
  std::optional<AlignedLayerMatrix> within_suspect_raw, within_other_raw;
};

/// "new [0,1,1,2] <- old [0,1,2]": the suspect's layers and the other's layer each came from
/// ("-" where unmatched).
[[nodiscard]] std::string format_layer_map(const std::vector<int>& map);

}  // namespace lineage::stages
