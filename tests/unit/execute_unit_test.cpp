// execute_unit against a plain serial reference (long double, two-pass) on random data, plus the
// edge cases: BF16 rounding, strided views, zero vectors, NaN/Inf, the norm trap, identity.
#include "stages/execute/execute_unit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/null/hidden_null.hpp"
#include "support/arriving_copy.hpp"

namespace lineage::stages {
namespace {

double stat(const UnitOutcome& o, const std::string& name) {
  const auto& names = unit_stat_names();
  const auto it = std::find(names.begin(), names.end(), name);
  EXPECT_NE(it, names.end()) << name;
  return stat_columns(o.stats)[static_cast<std::size_t>(it - names.begin())];
}

struct Reference {
  long double n = 0, cos = 0, pearson = 0, rel_l2 = 0, mad = 0, maxd = 0, eq = 0, mean_a = 0, std_a = 0;
};

Reference reference(const std::vector<float>& a, const std::vector<float>& b) {
  Reference r;
  long double sa = 0, sb = 0;
  std::vector<std::size_t> ok;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) && std::isfinite(b[i])) ok.push_back(i);
  }
  r.n = static_cast<long double>(ok.size());
  for (auto i : ok) sa += a[i], sb += b[i];
  const long double ma = sa / r.n, mb = sb / r.n;
  long double aa = 0, bb = 0, ab = 0, ca = 0, cb = 0, cab = 0, dd = 0;
  for (auto i : ok) {
    const long double x = a[i], y = b[i];
    aa += x * x, bb += y * y, ab += x * y;
    ca += (x - ma) * (x - ma), cb += (y - mb) * (y - mb), cab += (x - ma) * (y - mb);
    dd += (x - y) * (x - y);
    r.mad += std::fabs(x - y);
    r.maxd = std::max(r.maxd, std::fabs(x - y));
    r.eq += x == y ? 1 : 0;
  }
  r.cos = ab / std::sqrt(aa * bb);
  r.pearson = cab / std::sqrt(ca * cb);
  r.rel_l2 = std::sqrt(dd) / std::sqrt(aa);
  r.mad /= r.n;
  r.eq /= r.n;
  r.mean_a = ma;
  r.std_a = std::sqrt(ca / r.n);
  return r;
}

std::vector<std::byte> to_bf16(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto h = io::float_to_bf16(v[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::vector<float> from_bf16(const std::vector<std::byte>& b) {
  std::vector<float> out(b.size() / 2);
  io::decode_to_float(Dtype::BF16, b, out);
  return out;
}

ComparisonUnit unit_of(std::uint64_t rows, std::uint64_t cols, Dtype dt = Dtype::BF16) {
  ComparisonUnit u;
  u.rows = rows;
  u.cols = cols;
  u.a = ElementView{0, "a", "f", dt, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", dt, 0, 0, rows, cols, cols, 1};
  return u;
}

TEST(ExecuteUnit, MatchesTheReferenceOnRandomBf16Data) {
  std::mt19937 rng(7);
  for (std::uint64_t rows : {1ull, 3ull, 97ull, 1000ull}) {
    const std::uint64_t cols = 129;  // not a multiple of the block size
    std::normal_distribution<float> nd(0.01f, 0.02f);
    std::vector<float> a(rows * cols), b(rows * cols);
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = nd(rng);
      b[i] = 0.8f * a[i] + 0.6f * nd(rng);
    }
    const auto ba = to_bf16(a), bb = to_bf16(b);
    const auto fa = from_bf16(ba), fb = from_bf16(bb);  // what the unit sees after BF16 rounding
    const auto o = execute_unit(unit_of(rows, cols), ba, bb);
    const auto r = reference(fa, fb);
    EXPECT_EQ(stat(o, "n"), static_cast<double>(r.n));
    // The kernel sums in float lanes within a block of 4,096 (unit_kernel.cpp): its sums round
    // about 1e-6 relative at most (means 1e-7 of the values' spread), not double's 1e-16.
    const auto relative = [](long double x) { return 1e-6 * static_cast<double>(std::fabs(x)); };
    EXPECT_NEAR(stat(o, "cosine"), static_cast<double>(r.cos), relative(r.cos));
    EXPECT_NEAR(stat(o, "pearson"), static_cast<double>(r.pearson), relative(r.pearson));
    EXPECT_NEAR(stat(o, "rel_l2"), static_cast<double>(r.rel_l2), relative(r.rel_l2));
    EXPECT_NEAR(stat(o, "mean_abs_diff"), static_cast<double>(r.mad), relative(r.mad));
    EXPECT_EQ(stat(o, "max_abs_diff"), static_cast<double>(r.maxd));
    EXPECT_NEAR(stat(o, "frac_value_equal"), static_cast<double>(r.eq), 1e-15);
    EXPECT_NEAR(stat(o, "mean_a"), static_cast<double>(r.mean_a), relative(r.std_a));
    EXPECT_NEAR(stat(o, "std_a"), static_cast<double>(r.std_a), relative(r.std_a));
    // p99 of |a-b| is the lower edge of its histogram bucket: within 1% below the exact value.
    std::vector<double> d;
    for (std::size_t i = 0; i < fa.size(); ++i) d.push_back(std::fabs(static_cast<double>(fa[i]) - fb[i]));
    std::sort(d.begin(), d.end());
    const double exact = d[static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(d.size()))) - 1];
    EXPECT_LE(stat(o, "p99_abs_diff"), exact * 1.0000001);
    EXPECT_GE(stat(o, "p99_abs_diff"), exact * 0.99);
  }
}

TEST(ExecuteUnit, StridedViewEqualsTheContiguousCopy) {
  // A stored [2I=8, d=5] fused gate/up block, interleaved: gate = rows 0,2,4,6.
  std::mt19937 rng(8);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> fused(8 * 5), other(4 * 5);
  for (auto& x : fused) x = nd(rng);
  for (auto& x : other) x = nd(rng);
  std::vector<float> gate;
  for (int r = 0; r < 8; r += 2) {
    for (int c = 0; c < 5; ++c) gate.push_back(fused[static_cast<std::size_t>(r * 5 + c)]);
  }
  auto strided = unit_of(4, 5, Dtype::F32);
  strided.a.row_stride = 10;  // every other row of the fused tensor
  const auto fa = std::as_bytes(std::span(fused)), fo = std::as_bytes(std::span(other));
  const auto s = execute_unit(strided, fa, fo);
  const auto c = execute_unit(unit_of(4, 5, Dtype::F32), std::as_bytes(std::span(gate)), fo);
  const auto s_stats = stat_columns(s.stats), c_stats = stat_columns(c.stats);
  ASSERT_EQ(s_stats.size(), c_stats.size());
  for (std::size_t i = 0; i < s_stats.size(); ++i) {
    // Bit-equal, with undefined statistics (NaN) undefined on both sides.
    if (std::isnan(s_stats[i]) || std::isnan(c_stats[i])) {
      EXPECT_TRUE(std::isnan(s_stats[i]) && std::isnan(c_stats[i])) << unit_stat_names()[i];
    } else {
      EXPECT_EQ(s_stats[i], c_stats[i]) << unit_stat_names()[i];
    }
  }
  EXPECT_EQ(s.hash_a, c.hash_a);  // hashes follow logical element order
}

// A unit whose bytes arrive as the pass asks for them (a rank's chunked copy) has the outcome of
// the unit read whole, bit for bit, hashes, kept values, sketches, null and neuron matching
// included; a view read in stored order is asked for kernel block by kernel block, another (a
// transposed side, a unit split into row blocks) whole at once, and every byte has been asked
// for at the end.
TEST(ExecuteUnit, BytesArrivingAsThePassAsksGiveTheWholeReadsOutcome) {
  constexpr std::uint64_t rows = 300, cols = 512;  // 37.5 kernel blocks
  std::mt19937 rng(31);
  std::normal_distribution<float> nd(0, 0.02f);
  std::vector<float> a(rows * (cols + 8)), b(rows * cols);
  for (auto& x : a) x = nd(rng);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.9f * a[i + 8 * (i / cols)] + 0.1f * nd(rng);
  a[1000] = std::numeric_limits<float>::infinity();
  const auto stored_a = to_bf16(a), stored_b = to_bf16(b);
  std::vector<std::uint16_t> transposed(rows * cols);  // b stored [cols, rows]
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      std::memcpy(&transposed[c * rows + r], stored_b.data() + 2 * (r * cols + c), 2);
    }
  }
  const auto stored_bt = std::as_bytes(std::span(transposed));
  std::vector<float> a_contiguous;  // a's first 512 columns, back to back
  for (std::uint64_t r = 0; r < rows; ++r) {
    a_contiguous.insert(a_contiguous.end(), a.begin() + static_cast<std::ptrdiff_t>(r * (cols + 8)),
                        a.begin() + static_cast<std::ptrdiff_t>(r * (cols + 8) + cols));
  }
  const auto stored_ac = to_bf16(a_contiguous);
  std::vector<std::uint64_t> odd_rows;  // a token-mapped unit's rows: 299, 297, ..., 1
  for (std::uint64_t r = rows - 1; r < rows; r -= 2) odd_rows.push_back(r);
  struct Case {
    std::string name;
    UnitKind kind;
    TensorRole role;
    bool sketch, keep_values, a_contiguous, b_transposed;
    std::uint64_t unit_rows, block_bytes;
    bool a_streams, b_streams;
  };
  const auto expert = TensorRole::routed_expert;
  for (const auto& c :
       {Case{"expert down, sketched", UnitKind::same_key, expert, true, false, false, false, rows, kRowBlockBytes, true,
             true},
        Case{"values kept", UnitKind::same_key, expert, false, true, false, false, rows, kRowBlockBytes, true, true},
        Case{"b transposed", UnitKind::same_key, expert, true, false, false, true, rows, kRowBlockBytes, true, false},
        Case{"split into row blocks", UnitKind::same_key, expert, false, false, false, false, rows, 64 << 10, false,
             false},
        // The common rows of two routers, every row of both kept for the expert matching.
        Case{"router, more experts than compared", UnitKind::submatrix, TensorRole::router, false, true, true, false,
             rows - 20, kRowBlockBytes, true, true},
        // Rows in token order, not stored order: asked for whole.
        Case{"token-mapped", UnitKind::token_mapped, TensorRole::embedding, false, false, false, false, rows,
             kRowBlockBytes, false, false}}) {
    auto u = unit_of(c.unit_rows, cols);
    u.id = 4;
    u.kind = c.kind;
    u.key_a = u.key_b = TensorKey{Component::text, c.role, c.role == TensorRole::embedding ? -1 : 1};
    if (c.role == expert) u.key_a.projection = u.key_b.projection = Projection::down;
    u.sketch = c.sketch;
    u.keep_values = c.keep_values;
    u.a.rows = u.b.rows = rows;
    if (!c.a_contiguous) {
      u.a.cols = cols + 8;  // the unit's columns are the first 512 of 520: rows not back to back
      u.a.row_stride = cols + 8;
    }
    if (c.b_transposed) {
      u.b.row_stride = 1;
      u.b.col_stride = rows;
    }
    if (c.kind == UnitKind::token_mapped) u.rows_a = u.rows_b = odd_rows;
    const std::span<const std::byte> whole_a = c.a_contiguous ? stored_ac : stored_a;
    const std::span<const std::byte> whole_b = c.b_transposed ? stored_bt : std::span<const std::byte>(stored_b);
    testing::ArrivingCopy arriving_a(whole_a), arriving_b(whole_b);
    const auto whole = execute_unit(u, whole_a, whole_b, {}, c.block_bytes);
    const auto arrived = execute_unit(u, arriving_a.span, arriving_b.span, {}, c.block_bytes,
                                      ArrivingBytes{arriving_a.ask(), arriving_b.ask()});
    EXPECT_EQ(arrived.serialize(), whole.serialize()) << c.name;
    EXPECT_EQ(arrived.hash_a, whole.hash_a) << c.name;
    EXPECT_EQ(stat(arrived, "n_nonfinite"), 1.0) << c.name;
    // The branches the cases are for: every router row kept; the token-mapped rows compared.
    if (c.role == TensorRole::router) {
      EXPECT_EQ(arrived.values_a.size(), rows * cols);
    }
    if (c.kind == UnitKind::token_mapped) {
      EXPECT_EQ(stat(arrived, "n"), static_cast<double>(odd_rows.size() * cols - 1));  // one pair not finite
    }
    for (const auto* side : {&arriving_a, &arriving_b}) {
      const bool streams = side == &arriving_a ? c.a_streams : c.b_streams;
      ASSERT_FALSE(side->asked.empty()) << c.name;
      EXPECT_EQ(side->asked.back(), side->span.size()) << c.name;
      // In stored order: the first kernel block's rows alone, then more, block by block.
      EXPECT_EQ(side->asked.front() < side->span.size(), streams) << c.name;
      if (streams) {
        EXPECT_GT(side->asked.size(), 30u) << c.name;
      }
    }
  }
}

TEST(ExecuteUnit, ZeroVectorsNanInfAndIdentity) {
  std::vector<float> zeros(100, 0.0f), ones(100, 1.0f);
  auto u = unit_of(1, 100, Dtype::F32);
  const auto z = execute_unit(u, std::as_bytes(std::span(zeros)), std::as_bytes(std::span(ones)));
  EXPECT_TRUE(std::isnan(stat(z, "pearson")));  // undefined, never 0
  EXPECT_TRUE(std::isnan(stat(z, "cosine")));

  std::vector<float> a(100), b(100);
  for (int i = 0; i < 100; ++i)
    a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.1f;
  a[3] = std::numeric_limits<float>::quiet_NaN();
  b[7] = std::numeric_limits<float>::infinity();
  const auto o = execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(o, "n_nonfinite"), 2.0);
  EXPECT_EQ(stat(o, "nonfinite_a"), 1.0);
  EXPECT_EQ(stat(o, "nonfinite_b"), 1.0);
  EXPECT_EQ(stat(o, "nonfinite_mismatch"), 2.0);
  EXPECT_EQ(stat(o, "n"), 98.0);
  EXPECT_NEAR(stat(o, "pearson"), 1.0, 1e-12);  // the rest is identical; NaN did not propagate
  EXPECT_EQ(stat(o, "frac_bit_equal"), 1.0);
  EXPECT_NE(o.hash_a, o.hash_b);  // the raw bytes differ where the NaN/Inf are

  // The same non-finite value on both sides is no difference (NaN matches NaN, +Inf matches +Inf).
  b[7] = a[7];
  b[3] = std::numeric_limits<float>::quiet_NaN();
  a[9] = b[9] = -std::numeric_limits<float>::infinity();
  const auto agreed = execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(agreed, "nonfinite_a"), 2.0);
  EXPECT_EQ(stat(agreed, "nonfinite_b"), 2.0);
  EXPECT_EQ(stat(agreed, "nonfinite_mismatch"), 0.0);

  const auto same = execute_unit(u, std::as_bytes(std::span(ones)), std::as_bytes(std::span(ones)));
  EXPECT_EQ(same.hash_a, same.hash_b);
  EXPECT_EQ(stat(same, "frac_value_equal"), 1.0);
  EXPECT_EQ(stat(same, "rel_l2"), 0.0);
}

TEST(ExecuteUnit, TheNormTrapRawCosineHighPearsonNull) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0, 0.1f);
  std::vector<float> a(4096), b(4096);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = 1.0f + nd(rng), b[i] = 1.0f + nd(rng);
  auto u = unit_of(1, 4096, Dtype::F32);
  u.keep_values = true;
  const auto o = execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_GT(stat(o, "cosine"), 0.98);
  EXPECT_LT(std::fabs(stat(o, "pearson")), 0.06);
  EXPECT_NEAR(stat(o, "marginal_cosine"), stat(o, "cosine"), 0.01);  // raw cosine = marginals only
  EXPECT_LT(std::fabs(stat(o, "init_centered_cosine")), 0.06);
  EXPECT_EQ(o.values_a, a);  // kept whole for the layer x layer analyses
}

// The vectorised pass (stages/execute/unit_kernel.cpp) against long double references for what
// it derives or masks: the sums around 1 from each block's centred moments (norm-like weights,
// where Σ(x-1)² must not cancel), extremes and max |a-b| that skip NaN/Inf, lengths that leave
// a padded tail, and several blocks.
TEST(ExecuteUnit, VectorisedPassMasksNonFiniteAndDerivesTheSumsAroundOne) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0, 0.01f);
  const std::size_t n = 3 * 4096 + 13;
  std::vector<float> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) a[i] = 1.0f + nd(rng), b[i] = 0.9f * a[i] + 0.1f + nd(rng);
  a[5] = std::numeric_limits<float>::quiet_NaN();
  b[4096 + 7] = -std::numeric_limits<float>::infinity();
  a[n - 1] = 100.0f;  // the largest |a-b| and max_a, in the tail
  b[n - 2] = -5.0f;   // min_b
  long double s11 = 0, s1a = 0, s1b = 0, maxd = 0;
  float mina = INFINITY, maxa = -INFINITY, minb = INFINITY, maxb = -INFINITY;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) continue;
    const long double x = a[i] - 1.0L, y = b[i] - 1.0L;
    s11 += x * y, s1a += x * x, s1b += y * y;
    maxd = std::max(maxd, std::fabs(static_cast<long double>(a[i]) - b[i]));
    mina = std::min(mina, a[i]), maxa = std::max(maxa, a[i]), minb = std::min(minb, b[i]), maxb = std::max(maxb, b[i]);
  }
  const auto o = execute_unit(unit_of(1, n, Dtype::F32), std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(o, "n"), static_cast<double>(n - 2));
  EXPECT_EQ(stat(o, "n_nonfinite"), 2.0);
  // The kernel's float lanes (unit_kernel.cpp) take s_ab from the sides' sums of squares and
  // their difference's: its error is about 1e-6 of (s_aa + s_bb) / 2 at most, which a cosine multiplies by
  // (s_aa + s_bb) / (2 sqrt(s_aa s_bb)), large here, where a's one outlier of 99 dominates s_aa.
  const double unbalance = static_cast<double>((s1a + s1b) / (2 * std::sqrt(s1a * s1b)));
  EXPECT_GT(unbalance, 5.0);
  EXPECT_NEAR(stat(o, "init_centered_cosine"), static_cast<double>(s11 / std::sqrt(s1a * s1b)), 1e-6 * unbalance);
  // a - b in float: the exact difference rounded once.
  EXPECT_EQ(stat(o, "max_abs_diff"), static_cast<double>(static_cast<float>(maxd)));
  EXPECT_EQ(stat(o, "min_a"), mina);
  EXPECT_EQ(stat(o, "max_a"), maxa);
  EXPECT_EQ(stat(o, "min_b"), minb);
  EXPECT_EQ(stat(o, "max_b"), maxb);
}

// F64 decodes to float with rounding, so bit equality must come from the stored bits.
TEST(ExecuteUnit, BitEqualityOfF64ComesFromTheStoredBits) {
  std::vector<double> a(100, 0.5), b(100, 0.5);
  b[17] = std::nextafter(0.5, 1.0);  // the same float, different stored bits
  const auto o = execute_unit(unit_of(1, 100, Dtype::F64), std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(o, "frac_bit_equal"), 0.99);
  EXPECT_EQ(stat(o, "frac_value_equal"), 1.0);
}

// Large units fill the quantile histograms from a sample (every 2^k-th element, at least 2^17 of
// them): p99 of |a-b| stays within a bucket (1/128 relative) of the exact quantile.
TEST(ExecuteUnit, SampledQuantilesStayWithinABucketOfTheExactOne) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 1.0f);
  const std::size_t rows = 1024, cols = 1024;  // 2^20 elements: every 8th is sampled
  std::vector<float> a(rows * cols), b(rows * cols), d(rows * cols);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = nd(rng), b[i] = a[i] + 0.01f * nd(rng);
    d[i] = static_cast<float>(std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  const auto o =
      execute_unit(unit_of(rows, cols, Dtype::F32), std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  std::nth_element(d.begin(), d.begin() + static_cast<long>(d.size() * 99 / 100), d.end());
  const double exact = d[d.size() * 99 / 100];
  EXPECT_NEAR(stat(o, "p99_abs_diff"), exact, exact * 0.02);
}

TEST(ExecuteUnit, SmallSameKeyUnitsCarryTheJointTestsRelabellings) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  const auto outcome = [&](std::uint64_t rows, std::uint64_t cols, UnitKind kind) {
    std::vector<float> a(rows * cols), b(rows * cols);
    for (auto& x : a) x = nd(rng);
    for (auto& x : b) x = nd(rng);
    auto u = unit_of(rows, cols, Dtype::F32);
    u.kind = kind;
    u.key_a = u.key_b = TensorKey{Component::text, TensorRole::attn_q, 0};
    return execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  };
  const auto small = outcome(32, 64, UnitKind::same_key);
  ASSERT_EQ(small.joint_null.size(), static_cast<std::size_t>(kJointRelabellings));
  EXPECT_EQ(UnitOutcome::deserialize(0, small.serialize()).joint_null, small.joint_null);
  // Larger units have power of their own; baselines calibrate, they join no family test.
  EXPECT_TRUE(outcome(256, 512, UnitKind::same_key).joint_null.empty());
  EXPECT_TRUE(outcome(32, 64, UnitKind::baseline).joint_null.empty());
}

TEST(ExecuteUnit, OutcomeSerialisationRoundTrips) {
  std::vector<float> a(300, 0.5f), b(300, 0.25f);
  auto u = unit_of(3, 100, Dtype::F32);
  u.keep_values = true;
  u.id = 42;
  const auto o = execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  const auto back = UnitOutcome::deserialize(42, o.serialize());
  const auto back_stats = stat_columns(back.stats), o_stats = stat_columns(o.stats);
  EXPECT_EQ(back_stats.size(), o_stats.size());
  for (std::size_t i = 0; i < o_stats.size(); ++i) {
    EXPECT_TRUE(back_stats[i] == o_stats[i] || (std::isnan(back_stats[i]) && std::isnan(o_stats[i])));
  }
  EXPECT_EQ(back.values_b, o.values_b);
  EXPECT_EQ(back.hash_a, o.hash_a);
  auto bytes = o.serialize();
  bytes.pop_back();
  EXPECT_THROW((void)UnitOutcome::deserialize(42, bytes), std::exception);
}

}  // namespace
}  // namespace lineage::stages

namespace lineage::stages {
namespace {

TEST(ExecuteUnit, BaselinesReadOnlyTheNullsSampledRows) {
  // A [4096, 64] baseline: the null samples 1/32 of it (at least 2^15 elements): 512 rows. The
  // unit's statistics are computed over those rows only, and its bytes say so.
  const std::uint64_t rows = 4096, cols = 64;
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> a(rows * cols), b(rows * cols);
  for (auto& x : a) x = nd(rng);
  for (auto& x : b) x = nd(rng);
  auto u = unit_of(rows, cols, Dtype::F32);
  u.kind = UnitKind::baseline;
  u.key_a = u.key_b = TensorKey{Component::text, TensorRole::attn_q, 1};
  const auto sample = sample_rows(u.key_a, rows, cols);
  ASSERT_EQ(sample.size(), 512u);
  u.sampled = true;
  u.sampled_rows = sample.size();
  EXPECT_EQ(u.bytes(), 512u * cols * 8);
  const auto o = execute_unit(u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(o, "n"), 512.0 * cols);
  EXPECT_EQ(stat(o, "null_rows"), 512.0);
  // The same rows as its same-key counterpart's null: h agrees with an unsampled run's null.
  auto full = u;
  full.kind = UnitKind::same_key;
  full.sampled = false;
  const auto f = execute_unit(full, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  EXPECT_EQ(stat(f, "n"), static_cast<double>(rows * cols));
  EXPECT_EQ(stat(f, "hidden_corr"), stat(o, "hidden_corr"));
  // Baselines carry no basis test (no cross-layer null for g); same-key units do.
  EXPECT_TRUE(std::isnan(stat(o, "basis_corr")));
  EXPECT_TRUE(std::isfinite(stat(f, "basis_corr")));
}

// A baseline's or within-model unit computed from copies of its sampled rows alone (what a rank
// reads by pread) gives execute_unit's outcome over the whole tensors, bit for bit, hashes
// included; a unit that reads more, or copies of the wrong size, are refused.
TEST(ExecuteUnit, SampledRowsAloneGiveTheWholeTensorsOutcome) {
  const std::uint64_t rows = 4096, cols = 48;
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> a(rows * (cols + 16)), b(rows * cols);
  for (auto& x : a) x = nd(rng);
  for (auto& x : b) x = 0.5f * nd(rng);
  for (const auto kind : {UnitKind::baseline, UnitKind::within}) {
    for (const auto& [dt, projection] :
         {std::pair{Dtype::F32, Projection::down}, std::pair{Dtype::BF16, Projection::down},
          std::pair{Dtype::BF16, Projection::gate}}) {
      auto u = unit_of(rows, cols, dt);
      // Side a: a view of the first 48 of 64 columns (its rows are not back to back).
      u.a.row_stride = cols + 16;
      u.a.cols = cols + 16;
      u.kind = kind;
      u.key_a = u.key_b = TensorKey{Component::text, TensorRole::routed_expert, 1};
      // down: the null's hidden units are the rows; gate: the columns (standardise_columns).
      u.key_a.projection = u.key_b.projection = projection;
      u.sampled = true;
      u.sampled_rows = sample_row_count(rows, cols, {});
      ASSERT_TRUE(reads_sampled_rows_only(u));
      const auto stored_a = dt == Dtype::F32 ? std::vector<std::byte>(std::as_bytes(std::span(a)).begin(),
                                                                      std::as_bytes(std::span(a)).end())
                                             : to_bf16(a);
      const auto stored_b = dt == Dtype::F32 ? std::vector<std::byte>(std::as_bytes(std::span(b)).begin(),
                                                                      std::as_bytes(std::span(b)).end())
                                             : to_bf16(b);
      const auto sampled = sampled_rows_of(u);
      ASSERT_EQ(sampled.size(), u.sampled_rows);
      const std::size_t size = dtype_size(dt);
      std::vector<std::byte> rows_a, rows_b;
      for (const auto r : sampled) {
        const auto* pa = stored_a.data() + r * u.a.row_stride * size;
        const auto* pb = stored_b.data() + r * u.b.row_stride * size;
        rows_a.insert(rows_a.end(), pa, pa + cols * size);
        rows_b.insert(rows_b.end(), pb, pb + cols * size);
      }
      const auto whole = execute_unit(u, stored_a, stored_b);
      const auto copied = execute_unit_of_sampled_rows(u, rows_a, rows_b);
      EXPECT_EQ(copied.serialize(), whole.serialize())
          << to_string(kind) << " " << to_string(dt) << " " << to_string(projection);
      EXPECT_EQ(stat(copied, "n"), static_cast<double>(sampled.size() * cols));
      // Baselines carry h; within-model units no test.
      EXPECT_EQ(std::isfinite(stat(copied, "hidden_corr")), kind == UnitKind::baseline);
      rows_b.pop_back();
      EXPECT_THROW((void)execute_unit_of_sampled_rows(u, rows_a, rows_b), InternalError);
      auto same_key = u;
      same_key.kind = UnitKind::same_key;
      EXPECT_FALSE(reads_sampled_rows_only(same_key));
      EXPECT_THROW((void)execute_unit_of_sampled_rows(same_key, rows_a, rows_a), InternalError);
    }
  }
}

}  // namespace
}  // namespace lineage::stages

namespace lineage::stages {
namespace {

TEST(ExecuteUnit, HashUnitGivesTheOutcomesHashesAndSeesOneChangedByte) {
  // hash_unit is the resume's re-check: it must give exactly the journaled hashes for a plain, a
  // strided and a sampled unit, and another hash when one byte of the tensor changes.
  std::mt19937 rng(31);
  std::normal_distribution<float> nd(0, 1);
  const std::uint64_t rows = 4096, cols = 64;
  std::vector<float> a(rows * cols), b(rows * cols);
  for (auto& x : a) x = nd(rng);
  for (auto& x : b) x = nd(rng);
  auto plain = unit_of(rows, cols, Dtype::F32);
  auto strided = unit_of(rows / 2, cols, Dtype::F32);
  strided.a.row_stride = 2 * cols;
  auto sampled = plain;
  sampled.kind = UnitKind::baseline;
  sampled.key_a = sampled.key_b = TensorKey{Component::text, TensorRole::attn_q, 1};
  sampled.sampled = true;
  sampled.sampled_rows = sample_rows(sampled.key_a, rows, cols).size();
  for (const auto* u : {&plain, &strided, &sampled}) {
    const auto o = execute_unit(*u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
    const auto h = hash_unit(*u, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
    EXPECT_EQ(h.a, o.hash_a);
    EXPECT_EQ(h.b, o.hash_b);
  }
  const auto before = hash_unit(plain, std::as_bytes(std::span(a)), std::as_bytes(std::span(b)));
  auto bytes = std::vector<std::byte>(std::as_bytes(std::span(a)).begin(), std::as_bytes(std::span(a)).end());
  bytes[bytes.size() / 2 + 1] ^= std::byte{1};
  const auto after = hash_unit(plain, bytes, std::as_bytes(std::span(b)));
  EXPECT_NE(after.a, before.a);
  EXPECT_EQ(after.b, before.b);
}

}  // namespace
}  // namespace lineage::stages
