#pragma once
/// @file std_curves.hpp
/// Shape-free fingerprints (METHODS §6): per role, the standard deviation of each layer's tensor
/// (from the tensor scan's sampled blocks, stages/align/byte_identity.hpp) as a curve over depth,
/// for models of any width or depth.
///
/// Per role (attention q/k/v/o, MLP and expert projections, norms; experts averaged per layer)
/// present in both models over at least 3 layers: each curve is z-normalised across its layers
/// and linearly interpolated onto normalised depth t = l / (L - 1) at max(L_a, L_b) points; the
/// roles' curves are concatenated and correlated (Pearson r, the HonestAGI recipe). Unrelated
/// models reach r = 0.9 this way (METHODS §6), because trained models share depth trends, so:
/// - r_detrended: the same after removing each curve's straight-line trend over depth;
/// - p_layer_shuffle: the share of 1000 relabellings of the other model's layers (one relabelling
///   for every role) whose r_detrended is as high (a stated null: it ignores any structure other
///   than order, so it is optimistic);
/// - with controls in the run, the parent's r_detrended ranked among the suspect's controls:
///   p_controls = (1 + controls as high) / (1 + controls).
/// Supporting evidence only: it never changes a verdict (curves are editable and have few
/// degrees of freedom).

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stages/align/byte_identity.hpp"

namespace lineage::stages {

/// role text (key without layer and expert) -> per layer, the mean sampled SD.
using StdCurves = std::map<std::string, std::map<int, double>>;

/// The per-layer curves of one model from its scanned tensors (text weights with a layer).
[[nodiscard]] StdCurves std_curves_of(const std::vector<ScannedTensor>& tensors);

struct StdCurveComparison {
  std::vector<std::string> roles;  ///< roles in both models with >= 3 layers each
  int points = 0;                  ///< per role after interpolation
  double r = 0;                    ///< Pearson of the concatenated z-normalised curves (NaN: no roles)
  double r_detrended = 0;
  double p_layer_shuffle = 1;
  /// role -> the suspect's and the other model's curves, z-normalised over their layers and
  /// interpolated onto `points` points of normalised depth (what r compares; the report draws them).
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> curves;
  std::map<std::string, double> control_r;  ///< control label -> its r_detrended with the suspect
  std::optional<double> p_controls;
  [[nodiscard]] bool compared() const noexcept { return !roles.empty(); }
  [[nodiscard]] nlohmann::json to_json() const;
};

/// @param[in] seed  the relabelling stream (fixed per pair, so reruns agree)
[[nodiscard]] StdCurveComparison compare_std_curves(const StdCurves& suspect, const StdCurves& other,
                                                    std::uint64_t seed = 0x737464637572ULL);

/// Ranks the parent's r_detrended among the controls' (fills control_r and p_controls).
void rank_against_controls(StdCurveComparison& parent, const std::map<std::string, StdCurveComparison>& controls);

}  // namespace lineage::stages
