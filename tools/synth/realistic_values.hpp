#pragma once
/// @file realistic_values.hpp
/// Trained-like values for `lineage synth --realistic` (docs/synth.md "Realistic values").
/// Really trained matrices are not i.i.d.: embeddings share a mean direction (anisotropy), their
/// row norms follow token frequency, matrices are low rank plus noise, a few residual coordinates
/// (outlier dimensions) are much larger than the rest, and norm weights have per-dimension
/// structure. Two independent models generated here share nothing coordinate-wise except the
/// token-frequency law, which is a property of the tokenizer's data, not of a model.

#include <cstdint>
#include <string_view>
#include <vector>

#include "stages/inventory/expected_tensor.hpp"

namespace lineage::tools {

/// How a fresh model's values are drawn.
enum class ValueModel : std::uint8_t {
  iid,        ///< N(0, σ) per element (the default, docs/synth.md "Values")
  realistic,  ///< trained-like structure (this file)
};

/// "iid" / "realistic" (the provenance.json `values` field).
[[nodiscard]] std::string_view to_string(ValueModel m) noexcept;

/// Share of an embedding element's variance carried by the model's mean direction.
inline constexpr double kMeanDirectionShare = 0.6;
/// Share carried by the low-rank part (embeddings; projections use kProjectionLowRankShare).
inline constexpr double kEmbeddingLowRankShare = 0.2;
inline constexpr double kProjectionLowRankShare = 0.5;

/// What one realistic model shares across all of its tensors.
struct ModelStructure {
  std::uint64_t seed = 0;                   ///< the structure seed (the model's own seed)
  std::uint64_t hidden = 0;                 ///< residual width; 0 when unknown (then no outlier dimensions)
  std::vector<int> outlier_dims;            ///< 2-4 residual coordinates, increasing
  std::vector<double> outlier_scale;        ///< per outlier dimension, in [5, 10)
  std::vector<double> outlier_norm_offset;  ///< per outlier dimension: norm weight deviation
  /// Scale of residual coordinate `j` (1 except on outlier dimensions).
  [[nodiscard]] double residual_scale(std::uint64_t j) const noexcept;
  /// RMS of residual_scale over the `hidden` coordinates.
  [[nodiscard]] double residual_rms() const noexcept;
};

/// The structure of the model with `seed` and residual width `hidden`.
[[nodiscard]] ModelStructure model_structure(std::uint64_t seed, std::uint64_t hidden);

/// Residual width of a family expansion: the columns of its token embedding (0 if none).
[[nodiscard]] std::uint64_t residual_width(const std::vector<stages::ExpectedTensor>& specs) noexcept;

/// Low-rank rank used for a model of residual width `hidden`: max(1, hidden / 8).
[[nodiscard]] std::uint64_t low_rank(std::uint64_t hidden) noexcept;

/// Row-norm factor of token id `t`: 2·(1 + t/64)^-1/2, decreasing with the id like a
/// frequency law (low BPE ids are the frequent tokens). The same for every model: it depends on
/// the id only, so vocabulary extension continues it and base rows never change.
[[nodiscard]] double token_row_scale(std::uint64_t id) noexcept;

/// Values of one tensor of a realistic model: model-level structure (outlier dimensions, norm
/// profiles, an embedding table's mean direction and column factors) from `structure`, the
/// tensor's own randomness (projection factors and noise, embedding rows) from `seed`. BF16-exact.
[[nodiscard]] std::vector<float> realistic_values(const stages::ExpectedTensor& spec, const ModelStructure& structure,
                                                  std::uint64_t seed);

}  // namespace lineage::tools
