// The outlier-coordinate fingerprint of norm vectors (stages/verdict/outlier_fingerprint.hpp):
// its null (Poisson-binomial), copies found, independent vectors and norms at their initial
// value never accused.
#include "stages/verdict/outlier_fingerprint.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "io/dtype_decode.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {
namespace {

float bf16_round(float x) { return io::bf16_to_float(io::float_to_bf16(x)); }

/// A trained-like norm vector: 1 + small spread, a few large outlier coordinates.
std::vector<float> norm_vector(std::size_t d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.05f);
  std::uniform_int_distribution<std::size_t> pick(0, d - 1);
  std::vector<float> v(d);
  for (auto& x : v) x = bf16_round(1.0f + n(rng));
  for (int k = 0; k < 6; ++k) v[pick(rng)] = bf16_round(3.0f + static_cast<float>(k) * 0.7f + n(rng));
  return v;
}

TEST(OutlierFingerprint, PoissonBinomialTail) {
  EXPECT_DOUBLE_EQ(poisson_binomial_tail({0.5, 0.5}, 0), 1.0);
  EXPECT_DOUBLE_EQ(poisson_binomial_tail({0.5, 0.5}, 1), 0.75);
  EXPECT_DOUBLE_EQ(poisson_binomial_tail({0.5, 0.5}, 2), 0.25);
  EXPECT_DOUBLE_EQ(poisson_binomial_tail({0.5, 0.5}, 3), 0.0);
  EXPECT_NEAR(poisson_binomial_tail({0.1, 0.2, 0.3}, 2), 0.1 * 0.2 + 0.1 * 0.3 + 0.2 * 0.3 - 2 * 0.1 * 0.2 * 0.3,
              1e-15);
  // Tiny tails keep their precision (no 1 - P(X < x)).
  EXPECT_NEAR(poisson_binomial_tail(std::vector<double>(20, 1e-3), 20), 1e-60, 1e-70);
}

TEST(OutlierFingerprint, ACopyMatchesEveryOutlierAndAnIndependentVectorAlmostNone) {
  const auto a = norm_vector(512, 1);
  EXPECT_EQ(outlier_count(512), 32u);
  const auto copy = outlier_coincidences(a, a);
  EXPECT_EQ(copy.k, 32u);
  ASSERT_GT(copy.trials, 0u);
  EXPECT_EQ(copy.matches, copy.trials);
  EXPECT_LT(copy.expected, 0.5 * static_cast<double>(copy.trials));
  EXPECT_LT(copy.p, 1e-6);
  // A fine-tune that moved the values below BF16 precision keeps the fingerprint.
  auto tuned = a;
  for (auto& x : tuned) x *= 1.0f + 1e-4f;
  EXPECT_EQ(outlier_coincidences(a, tuned).matches, copy.trials);
  // Independent vectors: the matches stay near what chance expects.
  const auto b = norm_vector(512, 2);
  const auto ind = outlier_coincidences(a, b);
  EXPECT_GT(ind.p, 1e-3);
  EXPECT_LE(static_cast<double>(ind.matches), ind.expected + 3 * std::sqrt(ind.expected) + 1);
}

TEST(OutlierFingerprint, NormsAtTheirInitialValueAreNeverEvidence) {
  // Untrained norms (all 1.0) and zero-centred ones (all 0.0) are equal in every model.
  for (float init : {1.0f, 0.0f}) {
    const std::vector<float> v(256, init);
    const auto c = outlier_coincidences(v, v);
    EXPECT_EQ(c.trials, 0u);
    EXPECT_EQ(c.p, 1.0);
  }
  // Barely trained: a few coordinates left the initial value, the rest are 1.0 in both models.
  std::vector<float> a(256, 1.0f), b(256, 1.0f);
  a[3] = 1.5f;
  b[7] = 0.75f;
  const auto c = outlier_coincidences(a, b);
  EXPECT_EQ(c.matches, 0u);
  EXPECT_EQ(c.p, 1.0);
}

TEST(OutlierFingerprint, PooledOverTheNormUnitsOfAPair) {
  io::StoreContents store;
  const auto a = norm_vector(256, 5), b = norm_vector(256, 6);
  auto unit = [&](std::uint64_t id, const char* key, int layer, const char* kind) {
    io::StoredUnit u;
    u.id = id;
    u.kind = parse_unit_kind(kind).value();
    u.key_a = u.key_b = parse_tensor_key(key);
    u.model_a = 0;
    u.model_b = 1;
    u.layer_a = u.layer_b = layer;
    store.units.push_back(u);
  };
  unit(0, "text/attn_norm/L0", 0, "same_key");
  unit(1, "text/mlp_norm/L0", 0, "same_key");
  unit(2, "text/attn_norm/L1", 1, "baseline");  // not same-key: left out
  unit(3, "text/router/L0", 0, "same_key");     // not a norm: left out
  store.values.put(0, a, a);
  store.values.put(1, a, b);
  store.values.put(2, a, a);
  store.values.put(3, a, a);
  const auto f = outlier_fingerprint(store, 0, 1);
  ASSERT_EQ(f.vectors.size(), 2u);
  EXPECT_EQ(f.trials, f.vectors[0].trials + f.vectors[1].trials);
  EXPECT_EQ(f.matches, f.vectors[0].matches + f.vectors[1].matches);
  EXPECT_LT(f.p, 1e-6);
  EXPECT_TRUE(outlier_fingerprint(store, 1, 0).vectors.empty());
  // Per layer: both vectors are layer 0's.
  ASSERT_EQ(f.layers.size(), 1u);
  EXPECT_EQ(f.layers[0].layer, 0);
  EXPECT_EQ(f.layers[0].vectors, 2u);
  EXPECT_EQ(f.layers[0].trials, f.trials);
  EXPECT_DOUBLE_EQ(f.layers[0].p, f.p);
  const auto j = f.to_json();
  EXPECT_EQ(j.at("layers").size(), 1u);
  EXPECT_EQ(j.at("vectors").size(), 2u);
  EXPECT_EQ(j.at("vectors")[0].at("layer"), 0);
}

}  // namespace
}  // namespace lineage::stages
