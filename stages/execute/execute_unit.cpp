#include "stages/execute/execute_unit.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

/// Elements per block: moments are two-pass within a block and Chan-merged across blocks. Fixed
/// here (not by rank or chunk options) so every unit's result is bit-identical on any rank count.
constexpr std::size_t kBlock = 4096;
constexpr std::size_t kBuckets = 1u << 15;  // upper 16 bits of a non-negative float (METHODS §2.4)

std::size_t bucket(float v) { return std::bit_cast<std::uint32_t>(v) >> 16; }

/// Lower edge of the bucket where the cumulative count first reaches ceil(q * n).
double quantile(const std::vector<std::uint64_t>& hist, std::uint64_t n, double q) {
  if (n == 0) return std::nan("");
  const auto target = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
  std::uint64_t c = 0;
  for (std::size_t b = 0; b < hist.size(); ++b) {
    c += hist[b];
    if (c >= std::max<std::uint64_t>(target, 1)) return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
  }
  return std::nan("");
}

struct Moments {
  double n = 0, mean_a = 0, mean_b = 0, m2_a = 0, m2_b = 0, c_ab = 0;
  void merge_block(const float* a, const float* b, const bool* ok, std::size_t len) {
    double nb = 0, sa = 0, sb = 0;
    for (std::size_t i = 0; i < len; ++i) {
      if (!ok[i]) continue;
      nb += 1;
      sa += a[i];
      sb += b[i];
    }
    if (nb == 0) return;
    const double ma = sa / nb, mb = sb / nb;
    double qa = 0, qb = 0, qab = 0;
    for (std::size_t i = 0; i < len; ++i) {
      if (!ok[i]) continue;
      const double da = a[i] - ma, db = b[i] - mb;
      qa += da * da;
      qb += db * db;
      qab += da * db;
    }
    // Chan et al. pairwise update (METHODS §2.3): no Σx² − (Σx)²/n cancellation.
    const double total = n + nb, dA = ma - mean_a, dB = mb - mean_b;
    m2_a += qa + dA * dA * n * nb / total;
    m2_b += qb + dB * dB * n * nb / total;
    c_ab += qab + dA * dB * n * nb / total;
    mean_a += dA * nb / total;
    mean_b += dB * nb / total;
    n = total;
  }
};

/// Decodes `count` logical elements of a view row by row into `out`, starting at logical index
/// `start` (row-major over the unit's rows x cols); also copies their raw bits for equality.
class ViewReader {
 public:
  /// @param[in] row_map  when not empty, logical row r is the view's row row_map[r] (sampled units)
  ViewReader(const ElementView& v, std::uint64_t cols, std::span<const std::byte> bytes,
             std::span<const std::uint64_t> row_map = {})
      : v_(v), cols_(cols), bytes_(bytes), size_(dtype_size(v.dtype)), row_map_(row_map) {}

  void read(std::uint64_t start, std::size_t count, float* out, std::uint64_t* bits) const {
    for_each_run(start, count, [&](std::uint64_t first, std::size_t i, std::size_t run) {
      if (v_.col_stride == 1) {
        const auto* p = bytes_.data() + first * size_;
        io::decode_to_float(v_.dtype, std::span<const std::byte>(p, run * size_), std::span<float>(out + i, run));
        for (std::size_t k = 0; k < run; ++k) bits[i + k] = raw(p + k * size_);
      } else {
        for (std::size_t k = 0; k < run; ++k) {
          const auto* p = bytes_.data() + (first + k * v_.col_stride) * size_;
          out[i + k] = static_cast<float>(io::decode_element(v_.dtype, p));
          bits[i + k] = raw(p);
        }
      }
    });
  }

  /// Feeds the raw bytes of the same elements, in logical order, to a hash.
  void hash(std::uint64_t start, std::size_t count, XXH3_state_t* st) const {
    for_each_run(start, count, [&](std::uint64_t first, std::size_t, std::size_t run) {
      if (v_.col_stride == 1) {
        XXH3_64bits_update(st, bytes_.data() + first * size_, run * size_);
      } else {
        for (std::size_t k = 0; k < run; ++k)
          XXH3_64bits_update(st, bytes_.data() + (first + k * v_.col_stride) * size_, size_);
      }
    });
  }

 private:
  /// Splits logical elements [start, start + count) into runs within one row:
  /// fn(first stored element index, offset into the output, run length).
  template <typename Fn>
  void for_each_run(std::uint64_t start, std::size_t count, Fn&& fn) const {
    for (std::size_t i = 0; i < count;) {
      const std::uint64_t idx = start + i;
      const std::uint64_t r = row_map_.empty() ? idx / cols_ : row_map_[idx / cols_], c = idx % cols_;
      const std::size_t run = static_cast<std::size_t>(std::min<std::uint64_t>(count - i, cols_ - c));
      fn(v_.offset + r * v_.row_stride + c * v_.col_stride, i, run);
      i += run;
    }
  }

  std::uint64_t raw(const std::byte* p) const {
    // Fixed-size loads (a runtime-sized memcpy per element costs a call each).
    switch (size_) {
      case 1:
        return static_cast<std::uint64_t>(*p);
      case 2: {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
      }
      case 4: {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
      }
      default: {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
      }
    }
  }
  const ElementView& v_;
  std::uint64_t cols_;
  std::span<const std::byte> bytes_;
  std::size_t size_;
  std::span<const std::uint64_t> row_map_;
};

/// Decodes the given rows of both sides and runs the permutation null on them.
HiddenNull null_of(const ComparisonUnit& unit, std::span<const std::byte> a_tensor, std::span<const std::byte> b_tensor,
                   const std::vector<std::uint64_t>& rows, const NullOptions& options) {
  const auto axis = null_axis(unit.key_a, unit.rows, unit.cols);
  // Within-model units feed no test; baselines calibrate h only (docs/methods.md), so they
  // skip the basis test, the costlier of the two.
  if (axis == NullAxis::none || rows.empty() || options.permutations <= 0 || unit.kind == UnitKind::within) {
    HiddenNull none;
    none.hidden.observed = none.basis.observed = std::numeric_limits<double>::quiet_NaN();
    return none;
  }
  const ViewReader ra(unit.a, unit.cols, a_tensor, rows), rb(unit.b, unit.cols, b_tensor, rows);
  const std::uint64_t n = rows.size() * unit.cols;
  std::vector<float> a(n), b(n);
  std::vector<std::uint64_t> bits(kBlock);
  for (std::uint64_t start = 0; start < n; start += kBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n - start));
    ra.read(start, len, a.data() + start, bits.data());
    rb.read(start, len, b.data() + start, bits.data());
  }
  // Non-finite values would poison every permutation alike; they count as zero here (the pass
  // reports them in n_nonfinite).
  for (auto* v : {&a, &b}) {
    for (auto& x : *v) x = std::isfinite(x) ? x : 0.0f;
  }
  const auto name = to_string(unit.key_a) + "|" + to_string(unit.key_b);
  const auto seed = XXH3_64bits_withSeed(name.data(), name.size(), options.seed);
  NullOptions used = options;
  if (unit.kind == UnitKind::baseline) used.basis_units = 0;
  return hidden_null(a, b, rows.size(), unit.cols, axis, seed, used);
}

}  // namespace

const std::vector<std::string>& unit_stat_names() {
  static const std::vector<std::string> kNames = {
      "n", "n_nonfinite", "cosine", "pearson", "init_centered_cosine", "rel_l2", "rel_l2_sym", "mean_abs_diff",
      "max_abs_diff", "rms_diff", "p99_abs_diff", "tail_scale_diff", "cv_diff", "frac_bit_equal", "frac_value_equal",
      "marginal_cosine", "raw_minus_marginal", "z_cosine", "mean_a", "mean_b", "std_a", "std_b", "norm_a", "norm_b",
      "min_a", "max_a", "min_b", "max_b",
      // The permutation null of stages/null/hidden_null.hpp, on sampled rows.
      "null_axis", "null_rows", "null_units", "hidden_corr", "null_mean", "null_sd", "null_perms", "null_exceed",
      "null_p", "basis_units", "basis_corr", "basis_null_mean", "basis_null_sd", "basis_null_perms", "basis_null_p",
      // Non-finite values per side, and where the two sides disagree about them (evidence in
      // their own right: a suspect that is its parent with NaNs written in is not identical).
      "nonfinite_a", "nonfinite_b", "nonfinite_mismatch"};
  return kNames;
}

UnitHashes hash_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                     std::span<const std::byte> b_tensor, const NullOptions& null_options) {
  // The elements execute_unit hashes: the null's rows of a sampled unit, else every row. XXH3's
  // streaming digest does not depend on how the input is split, so one update per view suffices.
  const auto null_rows = sample_rows(unit.key_a, unit.rows, unit.cols, null_options);
  const std::span<const std::uint64_t> row_map =
      unit.sampled ? std::span<const std::uint64_t>(null_rows) : std::span<const std::uint64_t>();
  const std::uint64_t n_total = (unit.sampled ? null_rows.size() : unit.rows) * unit.cols;
  const ViewReader ra(unit.a, unit.cols, a_tensor, row_map), rb(unit.b, unit.cols, b_tensor, row_map);
  XXH3_state_t* st = XXH3_createState();
  UnitHashes h;
  XXH3_64bits_reset(st);
  ra.hash(0, static_cast<std::size_t>(n_total), st);
  h.a = XXH3_64bits_digest(st);
  XXH3_64bits_reset(st);
  rb.hash(0, static_cast<std::size_t>(n_total), st);
  h.b = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

UnitOutcome execute_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                         std::span<const std::byte> b_tensor, const NullOptions& null_options) {
  // Sampled units (baselines) read only the null's rows; the others read every row.
  const auto null_rows = sample_rows(unit.key_a, unit.rows, unit.cols, null_options);
  const std::span<const std::uint64_t> row_map =
      unit.sampled ? std::span<const std::uint64_t>(null_rows) : std::span<const std::uint64_t>();
  const std::uint64_t n_total = (unit.sampled ? null_rows.size() : unit.rows) * unit.cols;
  const ViewReader ra(unit.a, unit.cols, a_tensor, row_map), rb(unit.b, unit.cols, b_tensor, row_map);
  std::array<float, kBlock> a{}, b{};
  std::array<std::uint64_t, kBlock> bits_a{}, bits_b{};
  std::array<bool, kBlock> ok{};
  Moments mom;
  double s_aa = 0, s_bb = 0, s_ab = 0, s_ad = 0, s_dd = 0, s_a1 = 0, s_b1 = 0, s_a1b1 = 0, max_d = 0;
  double min_a = INFINITY, max_a = -INFINITY, min_b = INFINITY, max_b = -INFINITY;
  std::uint64_t n_ok = 0, n_bad = 0, bit_eq = 0, val_eq = 0, bad_a = 0, bad_b = 0, bad_mismatch = 0;
  std::vector<std::uint64_t> h_a(kBuckets), h_b(kBuckets), h_d(kBuckets);
  XXH3_state_t* st_a = XXH3_createState();
  XXH3_state_t* st_b = XXH3_createState();
  XXH3_64bits_reset(st_a);
  XXH3_64bits_reset(st_b);
  UnitOutcome out;
  out.unit_id = unit.id;
  if (unit.keep_values) {
    out.values_a.reserve(n_total);
    out.values_b.reserve(n_total);
  }
  const bool same_dtype = unit.a.dtype == unit.b.dtype;
  for (std::uint64_t start = 0; start < n_total; start += kBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n_total - start));
    ra.read(start, len, a.data(), bits_a.data());
    rb.read(start, len, b.data(), bits_b.data());
    ra.hash(start, len, st_a);
    rb.hash(start, len, st_b);
    if (unit.keep_values) {
      out.values_a.insert(out.values_a.end(), a.begin(), a.begin() + static_cast<long>(len));
      out.values_b.insert(out.values_b.end(), b.begin(), b.begin() + static_cast<long>(len));
    }
    for (std::size_t i = 0; i < len; ++i) {
      const double x = a[i], y = b[i];
      const bool fin_a = std::isfinite(x), fin_b = std::isfinite(y);
      ok[i] = fin_a && fin_b;
      if (!ok[i]) {
        ++n_bad;  // counted, excluded from every moment (never silently propagated)
        bad_a += fin_a ? 0 : 1;
        bad_b += fin_b ? 0 : 1;
        // Both NaN, or the same infinity, is the same value on both sides; anything else differs.
        const bool same = !fin_a && !fin_b && ((std::isnan(x) && std::isnan(y)) || x == y);
        bad_mismatch += same ? 0 : 1;
        continue;
      }
      ++n_ok;
      const double d = x - y, ad = std::fabs(d);
      s_aa += x * x;
      s_bb += y * y;
      s_ab += x * y;
      s_ad += ad;
      s_dd += d * d;
      s_a1 += (x - 1) * (x - 1);
      s_b1 += (y - 1) * (y - 1);
      s_a1b1 += (x - 1) * (y - 1);
      max_d = std::max(max_d, ad);
      min_a = std::min(min_a, x), max_a = std::max(max_a, x);
      min_b = std::min(min_b, y), max_b = std::max(max_b, y);
      bit_eq += (same_dtype && bits_a[i] == bits_b[i]) ? 1 : 0;
      val_eq += x == y ? 1 : 0;  // -0 == +0
      ++h_a[bucket(std::fabs(a[i]))];
      ++h_b[bucket(std::fabs(b[i]))];
      ++h_d[bucket(static_cast<float>(ad))];
    }
    mom.merge_block(a.data(), b.data(), ok.data(), len);
  }
  // A router whose expert count differs (pruned, added experts) keeps every row of both sides,
  // not only the common ones: the expert matching needs all of them (docs/methods.md).
  if (unit.keep_values && unit.kind == UnitKind::submatrix && unit.key_a.role == TensorRole::router &&
      unit.a.cols == unit.cols && unit.b.cols == unit.cols) {
    for (auto [view, bytes, values] :
         {std::tuple{&unit.a, a_tensor, &out.values_a}, std::tuple{&unit.b, b_tensor, &out.values_b}}) {
      const ViewReader whole(*view, unit.cols, bytes);
      const std::uint64_t n = view->rows * unit.cols;
      values->assign(n, 0.0f);
      std::vector<std::uint64_t> bits(kBlock);
      for (std::uint64_t start = 0; start < n; start += kBlock) {
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n - start));
        whole.read(start, len, values->data() + start, bits.data());
      }
    }
  }
  out.hash_a = XXH3_64bits_digest(st_a);
  out.hash_b = XXH3_64bits_digest(st_b);
  XXH3_freeState(st_a);
  XXH3_freeState(st_b);

  const double n = static_cast<double>(n_ok);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto ratio = [&](double num, double den) { return den > 0 ? num / den : nan; };
  // Guard (METHODS §2.3): centred cosine of a (near-)constant vector is undefined, not 0.
  const bool varies = mom.m2_a >= 1e-24 * n && mom.m2_b >= 1e-24 * n && n > 1;
  const double cosine = ratio(s_ab, std::sqrt(s_aa * s_bb));
  const double rms_a = n > 0 ? std::sqrt(s_aa / n) : nan, rms_b = n > 0 ? std::sqrt(s_bb / n) : nan;
  const double marginal = ratio(mom.mean_a, rms_a) * ratio(mom.mean_b, rms_b);
  const double std_a = n > 0 ? std::sqrt(mom.m2_a / n) : nan, std_b = n > 0 ? std::sqrt(mom.m2_b / n) : nan;
  const double cv_a = std::fabs(mom.mean_a) > 1e-12 ? std_a / std::fabs(mom.mean_a) : nan;
  const double cv_b = std::fabs(mom.mean_b) > 1e-12 ? std_b / std::fabs(mom.mean_b) : nan;
  out.stats = {n,
               static_cast<double>(n_bad),
               cosine,
               varies ? mom.c_ab / std::sqrt(mom.m2_a * mom.m2_b) : nan,
               ratio(s_a1b1, std::sqrt(s_a1 * s_b1)),
               ratio(std::sqrt(s_dd), std::sqrt(s_aa)),
               ratio(std::sqrt(s_dd), std::sqrt((s_aa + s_bb) / 2)),
               n > 0 ? s_ad / n : nan,
               n > 0 ? max_d : nan,
               n > 0 ? std::sqrt(s_dd / n) : nan,
               quantile(h_d, n_ok, 0.99),
               std::fabs(quantile(h_a, n_ok, 0.99) - quantile(h_b, n_ok, 0.99)),
               std::fabs(cv_a - cv_b),
               n > 0 ? static_cast<double>(bit_eq) / n : nan,
               n > 0 ? static_cast<double>(val_eq) / n : nan,
               marginal,
               cosine - marginal,
               cosine * std::sqrt(n),
               n > 0 ? mom.mean_a : nan,
               n > 0 ? mom.mean_b : nan,
               std_a,
               std_b,
               std::sqrt(s_aa),
               std::sqrt(s_bb),
               n > 0 ? min_a : nan,
               n > 0 ? max_a : nan,
               n > 0 ? min_b : nan,
               n > 0 ? max_b : nan};
  const auto null = null_of(unit, a_tensor, b_tensor, null_rows, null_options);
  const auto& h = null.hidden;
  const auto& g = null.basis;
  out.stats.insert(
      out.stats.end(),
      {static_cast<double>(null.axis), static_cast<double>(null_rows.size()), static_cast<double>(h.units), h.observed,
       h.null_mean, h.null_sd, static_cast<double>(h.permutations), static_cast<double>(h.exceed), h.p,
       static_cast<double>(g.units), g.observed, g.null_mean, g.null_sd, static_cast<double>(g.permutations), g.p,
       static_cast<double>(bad_a), static_cast<double>(bad_b), static_cast<double>(bad_mismatch)});
  return out;
}

}  // namespace lineage::stages
