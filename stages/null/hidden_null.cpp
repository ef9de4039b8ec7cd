#include "stages/null/hidden_null.hpp"

#include <xxhash.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "core/errors.hpp"
#include "stages/null/sample_products.hpp"

// standardise and standardise_columns are compiled per ISA from one body each (as the products
// of stages/null/sample_products.cpp): fixed-width GCC vectors and no contraction into fused
// multiply-adds (CMakeLists.txt), so every variant gives the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LINEAGE_TARGET_V3 [[gnu::target("arch=x86-64-v3")]]
#define LINEAGE_TARGET_V4 [[gnu::target("arch=x86-64-v4")]]
#else
#define LINEAGE_TARGET_V3
#define LINEAGE_TARGET_V4
#endif

namespace lineage::stages {
namespace {

double dot(const float* x, const float* y, std::size_t n) {
  // Float products summed in double per 8-lane block: vectorises and keeps the error tiny.
  double total = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float acc = 0;
    for (std::size_t k = 0; k < 8; ++k) acc += x[i + k] * y[i + k];
    total += acc;
  }
  for (; i < n; ++i) total += static_cast<double>(x[i]) * y[i];
  return total;
}

/// Ranks (average ranks for ties), 1-based.
std::vector<float> ranks(std::span<const float> v) {
  std::vector<std::uint32_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](auto x, auto y) { return v[x] < v[y]; });
  std::vector<float> r(v.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const float avg = static_cast<float>(0.5 * static_cast<double>(i + j) + 1.0);
    for (std::size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

bool is_vector(std::uint64_t rows, std::uint64_t cols) { return rows == 1 || cols == 1; }

}  // namespace

const char* to_string(NullAxis a) noexcept {
  switch (a) {
    case NullAxis::none:
      return "none";
    case NullAxis::rows:
      return "rows";
    case NullAxis::cols:
      return "cols";
  }
  return "?";
}

NullAxis null_axis(const TensorKey& key, std::uint64_t rows, std::uint64_t cols) noexcept {
  if (rows * cols < 2) return NullAxis::none;
  const NullAxis vector_axis = cols == 1 ? NullAxis::rows : NullAxis::cols;
  const auto p = key.projection;
  const bool writes_hidden = p == Projection::down || p == Projection::out;  // [hidden, inner]
  if (is_vector(rows, cols) || key.kind == ParamKind::bias) {
    if (!is_vector(rows, cols)) return NullAxis::none;
    switch (key.role) {
      // q/k norms and q/k/v biases run along rotary head dimensions, which are not
      // exchangeable (every model with RoPE shares their frequency structure).
      case TensorRole::q_norm:
      case TensorRole::k_norm:
      case TensorRole::attn_q:
      case TensorRole::attn_k:
      case TensorRole::attn_v:
      case TensorRole::attn_qkv:
      case TensorRole::mla_q_b:
      case TensorRole::mla_kv_b:
      case TensorRole::attn_sinks:
        return NullAxis::none;
      default:
        break;
    }
    if (is_norm_role(key.role)) return vector_axis;
    switch (key.role) {
      case TensorRole::attn_o:
      case TensorRole::router_bias:
      case TensorRole::dense_mlp:
      case TensorRole::shared_expert:
      case TensorRole::routed_expert:
        return vector_axis;
      default:
        return NullAxis::none;
    }
  }
  switch (key.role) {
    case TensorRole::embedding:
    case TensorRole::lm_head:
    case TensorRole::position_embedding:
    case TensorRole::attn_q:
    case TensorRole::attn_k:
    case TensorRole::attn_v:
    case TensorRole::attn_qkv:
    case TensorRole::mla_q_a:
    case TensorRole::mla_q_b:
    case TensorRole::mla_kv_a:
    case TensorRole::mla_kv_b:
    case TensorRole::router:
      return NullAxis::cols;
    case TensorRole::attn_o:
    case TensorRole::mtp_input_proj:
    case TensorRole::patch_embedding:
    case TensorRole::conv:
      return NullAxis::rows;
    case TensorRole::dense_mlp:
    case TensorRole::shared_expert:
    case TensorRole::routed_expert:
    case TensorRole::linear_attn:
      return writes_hidden ? NullAxis::rows : NullAxis::cols;
    default:
      return NullAxis::none;
  }
}

std::uint64_t sample_row_count(std::uint64_t rows, std::uint64_t cols, const NullOptions& options) {
  const std::uint64_t total = rows * cols;
  std::uint64_t target = std::clamp(total / std::max<std::uint64_t>(options.fraction_denominator, 1),
                                    options.min_elements, options.max_elements);
  target = std::min(target, total);
  return std::clamp<std::uint64_t>(cols ? (target + cols - 1) / cols : rows, std::min<std::uint64_t>(rows, 2), rows);
}

std::vector<std::uint64_t> sample_rows(const TensorKey& key, std::uint64_t rows, std::uint64_t cols,
                                       const NullOptions& options) {
  const std::uint64_t m = sample_row_count(rows, cols, options);
  TensorKey group = key;
  group.layer = -1;
  group.expert = -1;
  group.index = -1;
  const auto name = to_string(group);
  return hash_chosen(rows, m, XXH3_64bits_withSeed(name.data(), name.size(), options.seed));
}

namespace {

[[gnu::always_inline]] inline bool standardise_body(float* v, std::size_t n) {
  // Four double sums in lanes (element i into lane i % 4), summed in a fixed order at the end:
  // the loops vectorise instead of waiting on one sum's latency per element (this was 5-8% of
  // a default compare, the null's and the neuron matching's standardising of short vectors).
  // The lanes are one GCC vector of four doubles (the compiler did not vectorise the non-finite
  // test); non-finite values become 0 by a mask on the exponent bits, not a branch.
  constexpr std::size_t kLanes = 4;
  using f4 = float __attribute__((vector_size(16)));
  using u4 = std::uint32_t __attribute__((vector_size(16)));
  using d4 = double __attribute__((vector_size(32)));
  d4 sum4 = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    u4 bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bits &= (bits & 0x7f800000u) != 0x7f800000u;  // a vector compare gives all ones or zero
    std::memcpy(v + i, &bits, sizeof bits);
    f4 x;
    std::memcpy(&x, &bits, sizeof x);
    sum4 += __builtin_convertvector(x, d4);
  }
  double sum[kLanes] = {sum4[0], sum4[1], sum4[2], sum4[3]};
  for (; i < n; ++i) {
    if (!std::isfinite(v[i])) v[i] = 0.0f;
    sum[i % kLanes] += v[i];
  }
  const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / static_cast<double>(n);
  d4 squares4 = {0, 0, 0, 0};
  i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    f4 x;
    std::memcpy(&x, v + i, sizeof x);
    const d4 d = __builtin_convertvector(x, d4) - mean;
    squares4 += d * d;
  }
  double squares[kLanes] = {squares4[0], squares4[1], squares4[2], squares4[3]};
  for (; i < n; ++i) {
    const double d = v[i] - mean;
    squares[i % kLanes] += d * d;
  }
  const double q = (squares[0] + squares[1]) + (squares[2] + squares[3]);
  if (!(q > 1e-30 * static_cast<double>(n))) {
    std::fill(v, v + n, 0.0f);
    return false;
  }
  const double inv = 1.0 / std::sqrt(q);
  for (std::size_t j = 0; j < n; ++j) v[j] = static_cast<float>((v[j] - mean) * inv);
  return true;
}

using f8 = float __attribute__((vector_size(32)));
using u8 = std::uint32_t __attribute__((vector_size(32)));
using d8 = double __attribute__((vector_size(64)));

// Vector helpers of standardise_columns: always inlined into each of its ISA clones (an outlined
// call would pass a 64-byte vector between code of two ISAs, whose calling conventions differ).
/// Eight floats at p as doubles, non-finite ones as +0.
[[gnu::always_inline]] inline d8 clean8(const float* p) {
  u8 bits;
  std::memcpy(&bits, p, sizeof bits);
  bits &= (bits & 0x7f800000u) != 0x7f800000u;  // a vector compare gives all ones or zero
  f8 v;
  std::memcpy(&v, &bits, sizeof v);
  return __builtin_convertvector(v, d8);
}
[[gnu::always_inline]] inline void add8(double* p, d8 v) {
  d8 s;
  std::memcpy(&s, p, sizeof s);
  s += v;
  std::memcpy(p, &s, sizeof s);
}
[[gnu::always_inline]] inline float clean(float v) { return std::isfinite(v) ? v : 0.0f; }

[[gnu::always_inline]] inline void standardise_columns_body(const float* m, std::uint64_t rows, std::uint64_t cols,
                                                            float* out, bool* varies) {
  // standardise's four lanes (element i of a column in lane i % 4) become four rows of sums, each
  // added to in row order, so every column sees standardise's operations in its order. Eight
  // columns at a time in GCC vector types (the compiler would not vectorise the non-finite test).
  constexpr std::size_t kLanes = 4;
  constexpr std::uint64_t kStep = 8;
  const std::uint64_t whole = cols / kStep * kStep;
  std::vector<double> sums(kLanes * cols, 0.0), mean(cols), inv(cols);
  for (std::uint64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    double* lane = sums.data() + (r % kLanes) * cols;
    for (std::uint64_t c = 0; c < whole; c += kStep) add8(lane + c, clean8(row + c));
    for (std::uint64_t c = whole; c < cols; ++c) lane[c] += clean(row[c]);
  }
  const double n = static_cast<double>(rows);
  for (std::uint64_t c = 0; c < cols; ++c) {
    mean[c] = ((sums[c] + sums[cols + c]) + (sums[2 * cols + c] + sums[3 * cols + c])) / n;
  }
  std::fill(sums.begin(), sums.end(), 0.0);  // now the squares
  for (std::uint64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
    double* lane = sums.data() + (r % kLanes) * cols;
    for (std::uint64_t c = 0; c < whole; c += kStep) {
      d8 mu;
      std::memcpy(&mu, mean.data() + c, sizeof mu);
      const d8 d = clean8(row + c) - mu;
      add8(lane + c, d * d);
    }
    for (std::uint64_t c = whole; c < cols; ++c) {
      const double d = clean(row[c]) - mean[c];
      lane[c] += d * d;
    }
  }
  for (std::uint64_t c = 0; c < cols; ++c) {
    const double q = (sums[c] + sums[cols + c]) + (sums[2 * cols + c] + sums[3 * cols + c]);
    varies[c] = q > 1e-30 * n;
    inv[c] = varies[c] ? 1.0 / std::sqrt(q) : 0.0;  // (not used when constant)
  }
  // The values in tiles of eight rows by eight columns: computed as stored (eight columns of a
  // row at a time, vectorised) and written to their columns, so that both the reads and the
  // writes stay near, without a row-major copy of the whole table (4,096 token rows at hidden
  // 7,168 are 117 MB; docs/benchmarks.md). A constant column is all zero.
  float tile[kStep][kStep];
  for (std::uint64_t r0 = 0; r0 < rows; r0 += kStep) {
    const std::uint64_t r1 = std::min(rows, r0 + kStep);
    for (std::uint64_t c0 = 0; c0 < whole; c0 += kStep) {
      d8 mu, scale;
      std::memcpy(&mu, mean.data() + c0, sizeof mu);
      std::memcpy(&scale, inv.data() + c0, sizeof scale);
      for (std::uint64_t r = r0; r < r1; ++r) {
        const f8 v = __builtin_convertvector((clean8(m + r * cols + c0) - mu) * scale, f8);
        std::memcpy(tile[r - r0], &v, sizeof v);
      }
      for (std::uint64_t k = 0; k < kStep; ++k) {
        for (std::uint64_t r = r0; r < r1; ++r) out[(c0 + k) * rows + r] = tile[r - r0][k];
      }
    }
    for (std::uint64_t c = whole; c < cols; ++c) {
      for (std::uint64_t r = r0; r < r1; ++r) {
        out[c * rows + r] = static_cast<float>((clean(m[r * cols + c]) - mean[c]) * inv[c]);
      }
    }
  }
  for (std::uint64_t c = 0; c < cols; ++c) {
    if (!varies[c]) std::fill(out + c * rows, out + (c + 1) * rows, 0.0f);
  }
}

bool standardise_baseline(float* v, std::size_t n) { return standardise_body(v, n); }
LINEAGE_TARGET_V3 bool standardise_v3(float* v, std::size_t n) { return standardise_body(v, n); }
LINEAGE_TARGET_V4 bool standardise_v4(float* v, std::size_t n) { return standardise_body(v, n); }
void standardise_columns_baseline(const float* m, std::uint64_t rows, std::uint64_t cols, float* out, bool* varies) {
  standardise_columns_body(m, rows, cols, out, varies);
}
LINEAGE_TARGET_V3 void standardise_columns_v3(const float* m, std::uint64_t rows, std::uint64_t cols, float* out,
                                              bool* varies) {
  standardise_columns_body(m, rows, cols, out, varies);
}
LINEAGE_TARGET_V4 void standardise_columns_v4(const float* m, std::uint64_t rows, std::uint64_t cols, float* out,
                                              bool* varies) {
  standardise_columns_body(m, rows, cols, out, varies);
}

}  // namespace

bool standardise(float* v, std::size_t n, NullIsa isa) {
  return null_variant(isa, &standardise_baseline, &standardise_v3, &standardise_v4)(v, n);
}

void standardise_columns(const float* m, std::uint64_t rows, std::uint64_t cols, float* out, bool* varies,
                         NullIsa isa) {
  null_variant(isa, &standardise_columns_baseline, &standardise_columns_v3, &standardise_columns_v4)(m, rows, cols, out,
                                                                                                     varies);
}

std::vector<std::uint64_t> hash_chosen(std::uint64_t n, std::uint64_t count, std::uint64_t salt) {
  std::vector<std::uint64_t> out;
  if (count >= n) {
    out.resize(n);
    std::iota(out.begin(), out.end(), 0u);
    return out;
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> h(n);
  for (std::uint64_t i = 0; i < n; ++i) h[i] = {XXH3_64bits_withSeed(&i, sizeof i, salt), i};
  std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(count), h.end());
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(h[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t Relabelling::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Relabelling::below(std::uint64_t n) {
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
  for (;;) {
    const auto x = next();
    if (x < limit) return x % n;
  }
}

PermutationTest permutation_test(double observed, const std::vector<double>& null) {
  PermutationTest t;
  t.observed = observed;
  t.permutations = static_cast<int>(null.size());
  if (!null.empty()) {
    const double k = static_cast<double>(null.size());
    t.null_mean = std::accumulate(null.begin(), null.end(), 0.0) / k;
    double var = 0;
    for (double v : null) var += (v - t.null_mean) * (v - t.null_mean);
    t.null_sd = null.size() > 1 ? std::sqrt(var / (k - 1.0)) : 0.0;
    t.exceed = static_cast<int>(std::count_if(null.begin(), null.end(), [&](double v) { return v >= observed; }));
  }
  t.p = permutation_p(t.observed, t.null_mean, t.null_sd, t.permutations, t.exceed);
  return t;
}

double permutation_p(double observed, double mean, double sd, int permutations, int exceed) {
  if (!std::isfinite(observed) || permutations <= 0) return 1.0;
  const double k = permutations;
  if (exceed > 0) return (1.0 + exceed) / (k + 1.0);
  if (!(sd > 0) || permutations < 3) return 1.0 / (k + 1.0);
  const double t = (observed - mean) / sd;
  boost::math::students_t dist(k - 1.0);
  const double tail = t > 0 ? boost::math::cdf(boost::math::complement(dist, t)) : 1.0;
  return std::min(1.0 / (k + 1.0), tail);
}

namespace {

void summarise(PermutationTest& t, const std::vector<double>& null) {
  const auto units = t.units;
  t = permutation_test(t.observed, null);
  t.units = units;
}

PermutationTest undefined_test() {
  PermutationTest t;
  t.observed = std::numeric_limits<double>::quiet_NaN();
  return t;
}

/// g: Pearson of the upper triangles of the two correlation matrices of `chosen` units, and its
/// null under relabellings of B's units (rows and columns of its matrix together).
PermutationTest basis_test(const std::vector<float>& x, const std::vector<float>& y, std::uint64_t obs,
                           const std::vector<std::uint32_t>& chosen, Relabelling& rng, int permutations) {
  PermutationTest t = undefined_test();
  const std::size_t s = chosen.size();
  if (s < 8 || obs < 3) return t;
  // Correlation matrices of the chosen units (row-major, so ca[i * s + j] is entry (i, j)).
  std::vector<double> ca(s * s), cb(s * s);
  row_gram(x.data(), chosen, obs, ca.data());
  row_gram(y.data(), chosen, obs, cb.data());
  // Centre and scale A's upper triangle once; B's moments do not change under relabelling.
  const double pairs = static_cast<double>(s) * static_cast<double>(s - 1) / 2;
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < s; ++i) {
    for (std::size_t j = i + 1; j < s; ++j) ma += ca[i * s + j], mb += cb[i * s + j];
  }
  ma /= pairs;
  mb /= pairs;
  double qa = 0, qb = 0;
  for (std::size_t i = 0; i < s; ++i) {
    for (std::size_t j = i + 1; j < s; ++j) {
      ca[i * s + j] -= ma;
      ca[j * s + i] = ca[i * s + j];
      qa += ca[i * s + j] * ca[i * s + j];
      const double d = cb[i * s + j] - mb;
      qb += d * d;
    }
  }
  if (!(qa > 0) || !(qb > 0)) return t;
  const double norm = 1.0 / std::sqrt(qa * qb);
  auto statistic = [&](const std::vector<std::uint32_t>& perm) {
    double acc = 0;
    for (std::size_t i = 0; i < s; ++i) {
      const double* row_a = ca.data() + i * s;
      const double* row_b = cb.data() + static_cast<std::size_t>(perm[i]) * s;
      for (std::size_t j = i + 1; j < s; ++j) acc += row_a[j] * (row_b[perm[j]] - mb);
    }
    return acc * norm;
  };
  std::vector<std::uint32_t> perm(s);
  std::iota(perm.begin(), perm.end(), 0u);
  t.observed = statistic(perm);
  t.units = s;
  std::vector<double> null;
  for (int k = 0; k < permutations; ++k) {
    rng.shuffle(perm);
    null.push_back(statistic(perm));
  }
  summarise(t, null);
  return t;
}

/// The joint test's relabelling stream for a hidden axis of `length` units: fixed by the length
/// alone, so every unit, layer and model with that axis draws the same permutations.
std::uint64_t joint_seed(std::uint64_t length) { return XXH3_64bits_withSeed(&length, sizeof length, 0x6a6f696e74ULL); }

/// One-sided p-value from exact permutation moments and the normal tail (the statistic is a
/// sum over many bounded terms: Hoeffding's combinatorial central limit theorem).
double normal_tail_p(double observed, double mean, double sd) {
  if (!std::isfinite(observed) || !(sd > 0)) return 1.0;
  return 0.5 * std::erfc((observed - mean) / sd / std::sqrt(2.0));
}

/// The null of h = (1/u) sum_i D[i, i], D[i, k] = <x_i, y_k>, over every relabelling pi of the u
/// valid units, from its exact moments (Hoeffding): mean g = sum D / u^2 and variance
/// (sum D^2 - u sum r^2 - u sum c^2 + u^2 g^2) / (u^2 (u - 1)), r and c the row and column means
/// of D. Only sum D^2 costs more than a pass over the sample: it is ||X Y^T||^2, computed as D
/// or as the two Grams of the shorter side when that is affordable, else estimated from
/// 2^24 / obs random pairs.
void exact_moments(PermutationTest& t, const std::vector<float>& x, const std::vector<float>& y, std::uint64_t obs,
                   const std::vector<std::uint32_t>& valid, Relabelling& rng) {
  const std::size_t u = valid.size();
  const double ud = static_cast<double>(u);
  std::vector<double> xs(obs, 0.0), ys(obs, 0.0);
  for (auto i : valid) {
    const float* xi = x.data() + i * obs;
    const float* yi = y.data() + i * obs;
    for (std::uint64_t r = 0; r < obs; ++r) xs[r] += xi[r], ys[r] += yi[r];
  }
  double g = 0, sum_r2 = 0, sum_c2 = 0;
  for (std::uint64_t r = 0; r < obs; ++r) g += xs[r] * ys[r];
  g /= ud * ud;
  for (auto i : valid) {
    double ri = 0, ci = 0;
    const float* xi = x.data() + i * obs;
    const float* yi = y.data() + i * obs;
    for (std::uint64_t r = 0; r < obs; ++r) ri += xi[r] * ys[r], ci += xs[r] * yi[r];
    sum_r2 += (ri / ud) * (ri / ud);
    sum_c2 += (ci / ud) * (ci / ud);
  }
  constexpr double kBudget = 1 << 24;
  double sum_d2 = 0;
  const double exact_cost = ud * static_cast<double>(obs) * static_cast<double>(std::min<std::uint64_t>(u, obs));
  if (exact_cost <= 2 * kBudget) {
    // By the shorter side: sum D^2 = ||X Y^T||^2 = <X^T X, Y^T Y>. With more hidden units than
    // observations the two Grams (obs x obs) are cheaper, else D itself (u x u), in double: obs
    // can be tens of thousands there, and the centring below subtracts terms of about sum D^2
    // (units sharing a mean direction), so D's own rounding must stay small.
    sum_d2 = obs <= u ? gram_inner_product(x.data(), y.data(), valid, obs)
                      : cross_product_squares(x.data(), y.data(), valid, obs);
  } else {
    const auto pairs = static_cast<std::uint64_t>(kBudget / static_cast<double>(obs)) + 1;
    for (std::uint64_t n = 0; n < pairs; ++n) {
      const auto i = valid[rng.below(u)], k = valid[rng.below(u)];
      const double d = dot(x.data() + i * obs, y.data() + k * obs, obs);
      sum_d2 += d * d;
    }
    sum_d2 *= ud * ud / static_cast<double>(pairs);
  }
  const double centred = std::max(0.0, sum_d2 - ud * sum_r2 - ud * sum_c2 + ud * ud * g * g);
  t.null_mean = g;
  t.null_sd = std::sqrt(centred / (ud * ud * (ud - 1.0)));
  t.permutations = 0;
  t.exceed = 0;
  t.p = normal_tail_p(t.observed, t.null_mean, t.null_sd);
}

/// The joint test's values: h under the K shared relabellings of the `units` hidden vectors
/// (x[u], y[u] of length obs each, standardised; constant ones are zero and add nothing, as in
/// the observed statistic), each scaled by `scale` as the observed h is.
std::vector<float> joint_values(const std::vector<float>& x, const std::vector<float>& y, std::uint64_t units,
                                std::uint64_t obs, double scale, int relabellings) {
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(relabellings));
  std::vector<std::uint32_t> perm(units);
  std::iota(perm.begin(), perm.end(), 0u);
  Relabelling rng(joint_seed(units));
  for (int k = 0; k < relabellings; ++k) {
    rng.shuffle(perm);
    double s = 0;
    for (std::uint64_t u = 0; u < units; ++u) s += dot(x.data() + u * obs, y.data() + perm[u] * obs, obs);
    out.push_back(static_cast<float>(s * scale));
  }
  return out;
}

}  // namespace

std::vector<std::uint32_t> joint_relabelling(std::uint64_t length, int k) {
  std::vector<std::uint32_t> perm(length);
  std::iota(perm.begin(), perm.end(), 0u);
  Relabelling rng(joint_seed(length));
  for (int i = 0; i <= k; ++i) rng.shuffle(perm);
  return perm;
}

HiddenNull hidden_null(std::span<const float> a, std::span<const float> b, std::uint64_t sample_rows,
                       std::uint64_t cols, NullAxis axis, std::uint64_t seed, const NullOptions& options) {
  HiddenNull out;
  out.axis = axis;
  out.hidden = undefined_test();
  out.basis = undefined_test();
  if (a.size() != sample_rows * cols || b.size() != a.size()) throw InternalError("hidden_null: sample size mismatch");
  if (axis == NullAxis::none || a.empty()) return out;
  const int permutations = options.permutations;
  // Unit-major copies: one contiguous vector per hidden unit, standardised.
  std::vector<float> x, y;
  std::uint64_t units = 0, obs = 0;
  const bool vector = is_vector(sample_rows, cols);
  if (vector) {
    // Spearman: the ranks are the one observation of each coordinate.
    x = ranks(a);
    y = ranks(b);
    units = 1;
    obs = x.size();
  } else if (axis == NullAxis::rows) {
    x.assign(a.begin(), a.end());
    y.assign(b.begin(), b.end());
    units = sample_rows;
    obs = cols;
  } else {
    units = cols;
    obs = sample_rows;
  }
  Relabelling rng(seed);
  std::vector<double> null;
  null.reserve(static_cast<std::size_t>(std::max(permutations, 0)));
  if (vector) {
    if (!standardise(x.data(), obs) || !standardise(y.data(), obs)) return out;
    out.observations = 1;
    out.hidden.units = obs;
    out.hidden.observed = dot(x.data(), y.data(), obs);
    // Exact moments over all coordinate shuffles: both rank vectors are centred and of unit
    // length, so the mean is 0 and the variance 1 / (n - 1) (ties included).
    out.hidden.null_mean = 0;
    out.hidden.null_sd = 1.0 / std::sqrt(static_cast<double>(obs - 1));
    out.hidden.p = normal_tail_p(out.hidden.observed, 0, out.hidden.null_sd);
    // The coordinates are the hidden units, one observation each.
    if (options.joint_relabellings > 0) out.joint = joint_values(x, y, obs, 1, 1.0, options.joint_relabellings);
    return out;
  }
  // Units constant on either side carry no correlation; they are left out of both the
  // observed statistic and the null (the same set, so the test stays exact).
  std::vector<std::uint32_t> valid;
  if (axis == NullAxis::rows) {
    for (std::uint64_t u = 0; u < units; ++u) {
      const bool ok_x = standardise(x.data() + u * obs, obs);
      const bool ok_y = standardise(y.data() + u * obs, obs);
      if (ok_x && ok_y) valid.push_back(static_cast<std::uint32_t>(u));
    }
  } else {
    // The units are the columns: standardised and made unit-major in one sweep.
    x.resize(a.size());
    y.resize(b.size());
    const auto ok_x = std::make_unique<bool[]>(units), ok_y = std::make_unique<bool[]>(units);
    standardise_columns(a.data(), sample_rows, cols, x.data(), ok_x.get());
    standardise_columns(b.data(), sample_rows, cols, y.data(), ok_y.get());
    for (std::uint64_t u = 0; u < units; ++u) {
      if (ok_x[u] && ok_y[u]) valid.push_back(static_cast<std::uint32_t>(u));
    }
  }
  if (valid.size() < 2 || obs < 2) return out;
  out.observations = obs;
  const double inv = 1.0 / static_cast<double>(valid.size());
  double s = 0;
  for (auto u : valid) s += dot(x.data() + u * obs, y.data() + u * obs, obs);
  out.hidden.observed = s * inv;
  out.hidden.units = valid.size();
  exact_moments(out.hidden, x, y, obs, valid, rng);
  if (options.joint_relabellings > 0) out.joint = joint_values(x, y, units, obs, inv, options.joint_relabellings);
  // The basis test on a hash-chosen subset of the valid units (fixed by the unit index, so the
  // same hidden units are chosen in both models and in every layer).
  std::vector<std::uint32_t> chosen = valid;
  if (chosen.size() > options.basis_units) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> h;
    h.reserve(valid.size());
    for (auto u : valid) h.emplace_back(XXH3_64bits_withSeed(&u, sizeof u, options.seed), u);
    std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(options.basis_units), h.end());
    chosen.clear();
    for (std::uint64_t i = 0; i < options.basis_units; ++i) chosen.push_back(h[i].second);
    std::sort(chosen.begin(), chosen.end());
  }
  out.basis = basis_test(x, y, obs, chosen, rng, permutations);
  return out;
}

}  // namespace lineage::stages
