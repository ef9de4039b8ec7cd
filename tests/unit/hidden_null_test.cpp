#include "stages/null/hidden_null.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace lineage::stages {
namespace {

/// A trained-like [rows, cols] matrix (rows = tokens, cols = hidden): row norms falling with the
/// token id (the same law for every model with this tokenizer), a per-model mean direction that
/// carries about half of the variance, a per-model low-rank part and noise.
std::vector<float> trained_like(std::uint64_t rows, std::uint64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  std::vector<double> mean_dir(cols), u(rows * 4), v(4 * cols);
  for (auto& x : mean_dir) x = nd(rng) / std::sqrt(static_cast<double>(cols));
  for (auto& x : u) x = nd(rng);
  for (auto& x : v) x = nd(rng) / std::sqrt(static_cast<double>(cols));
  std::vector<float> m(rows * cols);
  for (std::uint64_t r = 0; r < rows; ++r) {
    const double norm = 1.0 / std::sqrt(1.0 + static_cast<double>(r) / 8.0);
    for (std::uint64_t c = 0; c < cols; ++c) {
      double low = 0;
      for (int k = 0; k < 4; ++k) low += u[r * 4 + k] * v[k * cols + c];
      const double x = 1.0 * mean_dir[c] + 0.5 * low + 0.5 * nd(rng) / std::sqrt(static_cast<double>(cols));
      m[r * cols + c] = static_cast<float>(norm * x);
    }
  }
  return m;
}

double pearson(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

TEST(HiddenNull, AxisFollowsTheRole) {
  EXPECT_EQ(null_axis({Component::text, TensorRole::embedding}, 1000, 64), NullAxis::cols);
  EXPECT_EQ(null_axis({Component::text, TensorRole::attn_q, 3}, 64, 64), NullAxis::cols);
  EXPECT_EQ(null_axis({Component::text, TensorRole::attn_o, 3}, 64, 64), NullAxis::rows);
  EXPECT_EQ(null_axis({Component::text, TensorRole::routed_expert, 3, 1, Projection::down}, 64, 32), NullAxis::rows);
  EXPECT_EQ(null_axis({Component::text, TensorRole::routed_expert, 3, 1, Projection::gate}, 32, 64), NullAxis::cols);
  EXPECT_EQ(null_axis({Component::text, TensorRole::router, 3}, 8, 64), NullAxis::cols);
  // Vectors are [n, 1]: norms along the hidden axis, q biases along rotary head dimensions.
  EXPECT_EQ(null_axis({Component::text, TensorRole::attn_norm, 3}, 64, 1), NullAxis::rows);
  EXPECT_EQ(null_axis({Component::text, TensorRole::attn_q, 3, -1, Projection::none, ParamKind::bias}, 64, 1),
            NullAxis::none);
  EXPECT_EQ(null_axis({Component::text, TensorRole::q_norm, 3}, 64, 1), NullAxis::none);
  EXPECT_EQ(null_axis({Component::text, TensorRole::other}, 64, 64), NullAxis::none);
}

TEST(HiddenNull, SampledRowsAreTheSameInEveryLayerAndModel) {
  const TensorKey k1{Component::text, TensorRole::embedding, -1};
  TensorKey q1{Component::text, TensorRole::attn_q, 1}, q5{Component::text, TensorRole::attn_q, 5};
  const auto a = sample_rows(q1, 100000, 4096), b = sample_rows(q5, 100000, 4096);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  // 1/16 of 409.6 M elements is above the 1 M cap: 1 M / 4096 = 256 rows.
  EXPECT_EQ(a.size(), 256u);
  EXPECT_NE(sample_rows(k1, 100000, 4096), a);       // another role, another row set
  EXPECT_EQ(sample_rows(q1, 100, 64).size(), 100u);  // small units are read whole
}

TEST(HiddenNull, PermutationPValues) {
  EXPECT_DOUBLE_EQ(permutation_p(0.5, 0, 0.1, 199, 9), 10.0 / 200.0);
  const double p5 = permutation_p(0.5, 0, 0.1, 199, 0), p10 = permutation_p(1.0, 0, 0.1, 199, 0);
  EXPECT_LE(p5, 1.0 / 200.0);
  EXPECT_LT(p10, p5);
  EXPECT_LT(p10, 1e-12);  // the fitted tail reaches far below what 199 permutations can show
  EXPECT_EQ(permutation_p(std::nan(""), 0, 0.1, 199, 0), 1.0);
}

TEST(HiddenNull, StructuredIndependentMatricesFoolTheAnalyticNullButNotThePermutationNull) {
  // Independent models with trained-like structure: the element-wise Pearson sits far outside
  // 1/sqrt(n), so the analytic rule would call them derived; the permutation test does not.
  const std::uint64_t rows = 512, cols = 64;
  std::vector<double> analytic_z, p_values;
  for (std::uint32_t seed = 0; seed < 20; ++seed) {
    const auto a = trained_like(rows, cols, 1000 + seed), b = trained_like(rows, cols, 2000 + seed);
    analytic_z.push_back(std::fabs(pearson(a, b)) * std::sqrt(static_cast<double>(rows * cols)));
    const auto r = hidden_null(a, b, rows, cols, NullAxis::cols, seed);
    p_values.push_back(r.hidden.p);
    EXPECT_GT(r.basis.p, 1e-4) << "seed " << seed;
  }
  std::sort(analytic_z.begin(), analytic_z.end());
  EXPECT_GT(analytic_z[analytic_z.size() / 2], 6.0) << "the structure no longer fools the analytic null";
  const auto small = std::count_if(p_values.begin(), p_values.end(), [](double p) { return p < 1e-4; });
  EXPECT_EQ(small, 0);
  const auto below_20pct = std::count_if(p_values.begin(), p_values.end(), [](double p) { return p < 0.2; });
  EXPECT_LE(below_20pct, 10);  // roughly uniform: about 4 expected
}

TEST(HiddenNull, DerivedMatricesAreFarOutAndPermutedNeuronsStillShowInTheBasisTest) {
  const std::uint64_t rows = 256, cols = 64;
  const auto a = trained_like(rows, cols, 7);
  auto b = a;
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0, 0.02f);
  for (auto& x : b) x += nd(rng);  // a fine-tune
  const auto r = hidden_null(a, b, rows, cols, NullAxis::cols, 1);
  EXPECT_GT(r.hidden.observed, 0.8);
  EXPECT_LT(r.hidden.p, 1e-6);
  EXPECT_GT((r.hidden.observed - r.hidden.null_mean) / r.hidden.null_sd, 10.0);
  EXPECT_LT(r.basis.p, 1e-6);
  // Rows (neurons, experts) permuted: h sees nothing, g is unchanged by the permutation.
  std::vector<std::uint32_t> perm(rows);
  for (std::uint32_t i = 0; i < rows; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<float> shuffled(b.size());
  for (std::uint64_t i = 0; i < rows; ++i) {
    std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(perm[i] * cols), cols,
                shuffled.begin() + static_cast<std::ptrdiff_t>(i * cols));
  }
  const auto s = hidden_null(a, shuffled, rows, cols, NullAxis::cols, 1);
  EXPECT_GT(s.hidden.p, 1e-3);
  EXPECT_LT(s.basis.p, 1e-6);
  EXPECT_NEAR(s.basis.observed, r.basis.observed, 1e-6);
}

TEST(HiddenNull, NormVectorsUseSpearmanAgainstCoordinateShuffles) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 0.05f);
  std::vector<float> a(512), b(512), c(512);
  for (auto& x : a) x = 1.0f + nd(rng);
  for (std::size_t i = 0; i < a.size(); ++i) b[i] = a[i] + 0.3f * nd(rng);
  for (auto& x : c) x = 1.0f + nd(rng);
  const auto derived = hidden_null(a, b, 512, 1, NullAxis::rows, 5);
  EXPECT_LT(derived.hidden.p, 1e-6);
  EXPECT_TRUE(std::isnan(derived.basis.observed));
  const auto independent = hidden_null(a, c, 512, 1, NullAxis::rows, 5);
  EXPECT_GT(independent.hidden.p, 1e-3);
  EXPECT_NEAR(independent.hidden.null_sd, 1.0 / std::sqrt(511.0), 0.01);
}

TEST(HiddenNullJoint, RelabellingsAreFixedByTheAxisLengthAlone) {
  const auto p = joint_relabelling(64, 3);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::uint32_t i = 0; i < 64; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(joint_relabelling(64, 3), p);
  EXPECT_NE(joint_relabelling(64, 4), p);
  // Asked for, the joint values are h under exactly these relabellings.
  const std::uint64_t rows = 32, cols = 64;
  const auto a = trained_like(rows, cols, 11), b = trained_like(rows, cols, 12);
  NullOptions options;
  EXPECT_TRUE(hidden_null(a, b, rows, cols, NullAxis::cols, 1, options).joint.empty());
  options.joint_relabellings = 5;
  const auto r = hidden_null(a, b, rows, cols, NullAxis::cols, 1, options);
  ASSERT_EQ(r.joint.size(), 5u);
  // h of B with its columns relabelled by the 4th relabelling (column c of the relabelled B is
  // column p[c] of B) is the 4th joint value; the seed of the unit's own test does not matter.
  std::vector<float> relabelled(b.size());
  for (std::uint64_t row = 0; row < rows; ++row) {
    for (std::uint64_t c = 0; c < cols; ++c) relabelled[row * cols + c] = b[row * cols + p[c]];
  }
  EXPECT_NEAR(r.joint[3], hidden_null(a, relabelled, rows, cols, NullAxis::cols, 99).hidden.observed, 1e-5);
  EXPECT_EQ(hidden_null(a, b, rows, cols, NullAxis::cols, 2, options).joint, r.joint);
}

TEST(HiddenNullJoint, SummedOverUnitsItsSpreadKeepsTheirDependence) {
  // Small independent units: each unit's joint values spread as its exact null does, and summed
  // over 16 unrelated units about 4 times as wide; 16 copies of one unit sum to exactly 16 times
  // its values, which a sum of per-unit variances (4 times) would understate.
  const std::uint64_t rows = 32, cols = 64;
  NullOptions options;
  options.joint_relabellings = kJointRelabellings;
  const auto spread = [](const std::vector<double>& v) {
    double m = 0, q = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) q += (x - m) * (x - m);
    return std::sqrt(q / static_cast<double>(v.size() - 1));
  };
  std::vector<double> sum(kJointRelabellings, 0.0), copies(kJointRelabellings, 0.0);
  double unit_sd = 0;
  for (std::uint32_t layer = 0; layer < 16; ++layer) {
    const auto a = trained_like(rows, cols, 100 + layer), b = trained_like(rows, cols, 200 + layer);
    const auto r = hidden_null(a, b, rows, cols, NullAxis::cols, layer, options);
    ASSERT_EQ(r.joint.size(), static_cast<std::size_t>(kJointRelabellings));
    const std::vector<double> own(r.joint.begin(), r.joint.end());
    EXPECT_NEAR(spread(own) / r.hidden.null_sd, 1.0, 0.25) << "layer " << layer;
    unit_sd += r.hidden.null_sd / 16;
    for (int k = 0; k < kJointRelabellings; ++k) sum[k] += r.joint[k];
    if (layer == 0) {
      for (int k = 0; k < kJointRelabellings; ++k) copies[k] = 16.0 * r.joint[k];
    }
  }
  EXPECT_NEAR(spread(sum) / unit_sd, 4.0, 1.0);
  EXPECT_GT(spread(copies) / unit_sd, 12.0);
}

/// The exact permutation moments of h, from every D[i, k] = corr(x_i, y_k) in double, as the
/// formula of METHODS §4.3 states them (no shortcut): the reference for hidden_null's GEMMs.
std::pair<double, double> exact_h_moments(const std::vector<float>& a, const std::vector<float>& b, std::uint64_t units,
                                          std::uint64_t obs) {
  auto standard = [&](const std::vector<float>& m, std::uint64_t unit) {
    std::vector<double> v(m.begin() + static_cast<std::ptrdiff_t>(unit * obs),
                          m.begin() + static_cast<std::ptrdiff_t>((unit + 1) * obs));
    double mean = 0, q = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(obs);
    for (double& x : v) q += (x - mean) * (x - mean);
    for (double& x : v) x = (x - mean) / std::sqrt(q);
    return v;
  };
  std::vector<std::vector<double>> xs, ys;
  for (std::uint64_t i = 0; i < units; ++i) xs.push_back(standard(a, i)), ys.push_back(standard(b, i));
  const auto u = static_cast<double>(units);
  double total = 0, squares = 0, rows = 0, cols = 0;
  std::vector<double> col(units, 0.0);
  for (std::uint64_t i = 0; i < units; ++i) {
    double row = 0;
    for (std::uint64_t k = 0; k < units; ++k) {
      double d = 0;
      for (std::uint64_t r = 0; r < obs; ++r) d += xs[i][r] * ys[k][r];
      total += d, squares += d * d, row += d, col[k] += d;
    }
    rows += (row / u) * (row / u);
  }
  for (double c : col) cols += (c / u) * (c / u);
  const double g = total / (u * u);
  return {g, std::sqrt((squares - u * rows - u * cols + u * u * g * g) / (u * u * (u - 1)))};
}

// The null's exact moments, by the Grams (more hidden units than observations) and by D itself
// (fewer), agree with the formula computed the long way, on related and on unrelated matrices.
TEST(HiddenNull, ExactMomentsAgreeWithTheFormulaEitherWayRound) {
  for (const auto& [units, obs] :
       {std::pair<std::uint64_t, std::uint64_t>{200, 24}, {24, 200}, {64, 64}, {19, 203}, {12, 40000}, {2048, 64}}) {
    for (const bool related : {true, false}) {
      // Axis rows: each of the `units` rows is a hidden unit's vector over `obs` observations.
      auto a = trained_like(units, obs, 7);
      auto b = trained_like(units, obs, related ? 7 : 8);
      std::mt19937 rng(3);
      std::normal_distribution<float> noise(0, 0.05f);
      for (auto& x : b) x += noise(rng);
      // A shared offset per observation: the units share a mean direction, so the variance's
      // centring cancels most of sum D^2 (the case where D's rounding shows).
      for (std::uint64_t u = 0; u < units; ++u) {
        for (std::uint64_t r = 0; r < obs; ++r) {
          const float shared = 0.05f * std::sin(0.1f * static_cast<float>(r));
          a[u * obs + r] += shared;
          b[u * obs + r] += shared;
        }
      }
      const auto r = hidden_null(a, b, units, obs, NullAxis::rows, 11);
      ASSERT_EQ(r.hidden.units, units);
      ASSERT_EQ(r.hidden.permutations, 0);  // exact moments, not relabellings
      const auto [mean, sd] = exact_h_moments(a, b, units, obs);
      EXPECT_NEAR(r.hidden.null_mean, mean, 1e-6 + 1e-5 * std::abs(mean)) << units << " x " << obs;
      EXPECT_NEAR(r.hidden.null_sd, sd, 1e-4 * sd) << units << " x " << obs << (related ? " related" : "");
    }
  }
}

// standardise against a double two-pass reference: every length up to 9 (the four-lane loop's
// tails), constant vectors, and non-finite values, which count as zeros.
TEST(HiddenNull, StandardiseCentresScalesAndZeroesNonFiniteValues) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.3f, 2.0f);
  for (std::size_t n = 0; n <= 9; ++n) {
    for (const int variant : {0, 1, 2}) {
      std::vector<float> v(n);
      for (auto& x : v) x = nd(rng);
      if (variant == 1) std::fill(v.begin(), v.end(), 1.5f);  // constant
      if (variant == 2 && n >= 3) {
        v[0] = std::numeric_limits<float>::quiet_NaN();
        v[n - 1] = -std::numeric_limits<float>::infinity();
      }
      std::vector<double> ref(v.begin(), v.end());
      for (auto& x : ref) x = std::isfinite(x) ? x : 0.0;
      double mean = 0, q = 0;
      for (double x : ref) mean += x;
      mean /= static_cast<double>(std::max<std::size_t>(n, 1));
      for (double x : ref) q += (x - mean) * (x - mean);
      const bool varies = n > 0 && q > 1e-30 * static_cast<double>(n);
      auto got = v;
      EXPECT_EQ(standardise(got.data(), n), varies) << n << " variant " << variant;
      for (std::size_t i = 0; i < n; ++i) {
        const double want = varies ? (ref[i] - mean) / std::sqrt(q) : 0.0;
        EXPECT_NEAR(got[i], want, 1e-6) << n << " variant " << variant << " at " << i;
      }
    }
  }
}

// standardise_columns gives, bit for bit, what standardise gives on a copy of each column: row
// counts across the four lanes' tails, constant columns, non-finite values, columns that are
// large next to their spread (where a different order of the sums would show in the last bits);
// 37 columns (four whole tiles of eight and a tail), and 1, 8 and 16 (a tail alone, whole tiles
// alone).
TEST(HiddenNull, StandardisingColumnsIsStandardisingEachColumn) {
  std::mt19937 rng(9);
  std::normal_distribution<float> noise(0, 1);
  for (const std::uint64_t cols : {37u, 1u, 8u, 16u}) {
    for (const std::uint64_t rows : {2u, 3u, 4u, 5u, 7u, 9u, 64u, 131u}) {
      std::vector<float> m(rows * cols);
      for (std::uint64_t r = 0; r < rows; ++r) {
        for (std::uint64_t c = 0; c < cols; ++c) {
          float v = 1000.0f * static_cast<float>(c % 5) + noise(rng);
          if (c == 3) v = 2.5f;                                                    // constant
          if (c == 4 && r == 1) v = std::numeric_limits<float>::infinity();        // non-finite
          if (c == 5 && r == 0) v = std::numeric_limits<float>::quiet_NaN();       // non-finite
          if (c == 6) v = r == 0 ? std::numeric_limits<float>::infinity() : 0.0f;  // constant once cleaned
          // The same cases past the last whole eight columns (the scalar tail).
          if (c == 33 && r == 2) v = std::numeric_limits<float>::quiet_NaN();
          if (c == 35) v = 7.0f;
          if (c == 36) v = r == 0 ? -std::numeric_limits<float>::infinity() : 0.0f;
          m[r * cols + c] = v;
        }
      }
      std::vector<float> out(rows * cols);
      auto varies = std::make_unique<bool[]>(cols);
      standardise_columns(m.data(), rows, cols, out.data(), varies.get());
      for (std::uint64_t c = 0; c < cols; ++c) {
        std::vector<float> column(rows);
        for (std::uint64_t r = 0; r < rows; ++r) column[r] = m[r * cols + c];
        EXPECT_EQ(varies[c], standardise(column.data(), rows)) << rows << " rows, " << cols << " columns, column " << c;
        for (std::uint64_t r = 0; r < rows; ++r) {
          EXPECT_EQ(std::bit_cast<std::uint32_t>(out[c * rows + r]), std::bit_cast<std::uint32_t>(column[r]))
              << rows << " rows, column " << c << ", row " << r;
        }
      }
      if (cols == 37) {
        EXPECT_FALSE(varies[3]);
        EXPECT_FALSE(varies[6]);
        EXPECT_TRUE(varies[4]);
        EXPECT_FALSE(varies[35]);
        EXPECT_FALSE(varies[36]);
        EXPECT_TRUE(varies[33]);
      }
    }
  }
}

// Every instruction set this machine runs standardises to the same bits, a vector at a time and
// all columns at once (lengths across the lanes' tails, non-finite values, a constant column).
// The outputs are floats rounded from double sums: this catches a variant that computes something
// else (a mask, a tail, a lane), not a last-bit difference inside the sums, which the build rules
// out (-ffp-contract=off; sample_products_test shows what contraction does to a double result).
TEST(HiddenNull, StandardisingGivesTheSameBitsOnEveryInstructionSet) {
  std::mt19937 rng(4);
  std::normal_distribution<float> noise(0, 1);
  const std::uint64_t rows = 67, cols = 45;
  std::vector<float> m(rows * cols);
  for (auto& v : m) v = 3.0f + noise(rng);
  m[5] = std::numeric_limits<float>::infinity();
  m[cols + 40] = std::numeric_limits<float>::quiet_NaN();
  for (std::uint64_t r = 0; r < rows; ++r) m[r * cols + 7] = 1.5f;
  const auto bits = [](const std::vector<float>& v) {
    std::vector<std::uint32_t> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::bit_cast<std::uint32_t>(v[i]);
    return out;
  };
  std::vector<float> base_out(rows * cols);
  auto base_varies = std::make_unique<bool[]>(cols);
  standardise_columns(m.data(), rows, cols, base_out.data(), base_varies.get(), NullIsa::baseline);
  for (const auto isa : null_isas()) {
    std::vector<float> out(rows * cols);
    auto varies = std::make_unique<bool[]>(cols);
    standardise_columns(m.data(), rows, cols, out.data(), varies.get(), isa);
    EXPECT_EQ(bits(out), bits(base_out)) << static_cast<int>(isa);
    for (std::uint64_t c = 0; c < cols; ++c) EXPECT_EQ(varies[c], base_varies[c]) << static_cast<int>(isa);
    for (const std::size_t n : {1u, 3u, 4u, 7u, 64u, 131u}) {
      std::vector<float> v(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n)), w = v;
      EXPECT_EQ(standardise(v.data(), n, isa), standardise(w.data(), n, NullIsa::baseline)) << n;
      EXPECT_EQ(bits(v), bits(w)) << n << " " << static_cast<int>(isa);
    }
  }
}

}  // namespace
}  // namespace lineage::stages
