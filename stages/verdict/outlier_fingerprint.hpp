#pragma once
/// @file outlier_fingerprint.hpp
/// The outlier-coordinate fingerprint of norm vectors (METHODS §2.7): the k most extreme
/// coordinates of each model's vector (by |v - median|), and how many of them carry the same
/// value at the same index in the other model.
///
/// Values match when they round to the same BF16 number: bit equality for BF16 checkpoints (the
/// common case), and for F32 ones the same up to BF16 rounding, the precision most weights were
/// trained or exported in (a fine-tune stored in F32 of a BF16 parent keeps its untouched values
/// at that precision). The initial values of a norm weight (exactly 1.0, or 0.0 for zero-centred
/// norms) never count: every independent model starts there.
///
/// Null: for independent models the labelling of residual dimensions is exchangeable, so at an
/// outlier index i of A, B's value is a random draw from B's own values: it matches with
/// probability p_i = (B's values equal to a_i) / d (and symmetrically for B's outliers). The count
/// of matches is a sum of independent Bernoulli(p_i), whose upper tail (Poisson-binomial) is the
/// p-value, per vector and pooled over the pair's vectors.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "io/store/result_store.hpp"

namespace lineage::stages {

/// Outliers taken per vector: d / 16, between 4 and 32.
[[nodiscard]] std::size_t outlier_count(std::size_t d) noexcept;

struct OutlierCoincidences {
  std::string key;  ///< the unit's key (suspect side)
  int layer = -1;
  std::size_t dim = 0;
  std::size_t k = 0;
  std::size_t trials = 0;      ///< outlier indices of either model (union), init values left out
  std::size_t matches = 0;     ///< of them, the same BF16 value in both
  double expected = 0;         ///< sum of p_i: matches expected for independent models
  double p = 1;                ///< P(X >= matches) under the null
  std::vector<double> chance;  ///< p_i per trial (pooled by outlier_fingerprint)
};

/// The coincidences of one pair of equal-length vectors; trials == 0 when shorter than 16.
[[nodiscard]] OutlierCoincidences outlier_coincidences(std::span<const float> a, std::span<const float> b);

/// P(X >= x) for X a sum of independent Bernoulli(p_i) (exact dynamic programme, no
/// cancellation: the states >= x are one absorbing state).
[[nodiscard]] double poisson_binomial_tail(const std::vector<double>& p, std::size_t x);

/// The vectors of one layer pooled (-1: vectors outside the layers, e.g. the final norm).
struct OutlierLayer {
  int layer = -1;
  std::size_t vectors = 0;
  std::size_t trials = 0;
  std::size_t matches = 0;
  double expected = 0;
  double p = 1;
};

struct OutlierFingerprint {
  std::vector<OutlierCoincidences> vectors;  ///< one per norm vector pair kept whole
  std::vector<OutlierLayer> layers;          ///< by layer
  std::size_t trials = 0;
  std::size_t matches = 0;
  double expected = 0;
  double p = 1;  ///< pooled over every vector
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Over the same-key norm units of the pair (suspect, other) whose values the store keeps.
[[nodiscard]] OutlierFingerprint outlier_fingerprint(const io::StoreContents& store, int suspect, int other);

}  // namespace lineage::stages
