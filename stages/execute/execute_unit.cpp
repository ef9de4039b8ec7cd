#include "stages/execute/execute_unit.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/align/token_mapped_embedding.hpp"
#include "stages/execute/block_scales.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/execute/sketch_gather.hpp"
#include "stages/execute/stream_hash.hpp"
#include "stages/execute/unit_kernel.hpp"
#include "stages/execute/unit_neurons.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::stages {
namespace {

constexpr std::size_t kBlock = kKernelBlock;

/// What the pass over `unit` computes: a screening run's units, the screen.
PassStatistics pass_statistics(const ComparisonUnit& unit) {
  return unit.screen ? PassStatistics::screen : PassStatistics::full;
}

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

/// Decodes `count` logical elements of a view row by row into `out`, starting at logical index
/// `start` (row-major over the unit's rows x cols), a quantised weight's codes times their block
/// scales (ElementView::scales); on request also copies their raw bits.
class ViewReader {
 public:
  /// @param[in] row_map  when not empty, logical row r is the view's row row_map[r] (sampled units)
  /// @param[in] origin   the stored element `bytes` starts at: 0 for the whole view, more for a
  ///                     copy of some of its rows (row_block_partial_of_rows)
  ViewReader(const ElementView& v, std::uint64_t cols, std::span<const std::byte> bytes,
             std::span<const std::uint64_t> row_map = {}, std::uint64_t origin = 0)
      : v_(v), cols_(cols), bytes_(bytes), size_(dtype_size(v.dtype)), row_map_(row_map), origin_(origin) {}

  /// @param[out] bits  the stored bits of each element, or nullptr when not wanted
  void read(std::uint64_t start, std::size_t count, float* out, std::uint64_t* bits) const {
    for_each_run(start, count, [&](std::uint64_t first, std::size_t i, std::size_t run) {
      if (v_.col_stride == 1) {
        const auto* p = bytes_.data() + first * size_;
        io::decode_to_float(v_.dtype, std::span<const std::byte>(p, run * size_), std::span<float>(out + i, run));
        if (v_.scales) apply_block_scales(*v_.scales, first + origin_, 1, out + i, run);
        if (bits) {
          for (std::size_t k = 0; k < run; ++k) bits[i + k] = raw(p + k * size_);
        }
      } else {
        for (std::size_t k = 0; k < run; ++k) {
          const auto* p = bytes_.data() + (first + k * v_.col_stride) * size_;
          out[i + k] = io::float_at(v_.dtype, p);
          if (bits) bits[i + k] = raw(p);
        }
        if (v_.scales) apply_block_scales(*v_.scales, first + origin_, v_.col_stride, out + i, run);
      }
    });
  }

  /// How many bytes of the span the first `end` logical elements need: one past the stored end
  /// of element end - 1 for a view read in stored order (rows in order, none overlapping the
  /// next, columns forward), the whole span for another (ArrivingBytes).
  [[nodiscard]] std::uint64_t bytes_through(std::uint64_t end) const {
    const bool in_stored_order =
        row_map_.empty() && v_.col_stride >= 1 && v_.row_stride >= (cols_ > 0 ? cols_ - 1 : 0) * v_.col_stride + 1;
    if (!in_stored_order || end == 0) return in_stored_order ? 0 : bytes_.size();
    const std::uint64_t last = end - 1, r = last / cols_, c = last % cols_;
    return (v_.offset + r * v_.row_stride + c * v_.col_stride - origin_ + 1) * size_;
  }

  /// The stored bytes of logical elements [start, start + count) when they lie one after the
  /// other in stored order (a run within one row, or rows stored back to back), else nullptr.
  [[nodiscard]] const std::byte* consecutive(std::uint64_t start, std::size_t count) const {
    if (count == 0 || v_.col_stride != 1 || !row_map_.empty()) return nullptr;
    if (start / cols_ != (start + count - 1) / cols_ && v_.row_stride != cols_) return nullptr;
    const std::uint64_t r = start / cols_, c = start % cols_;
    return bytes_.data() + (v_.offset + r * v_.row_stride + c - origin_) * size_;
  }

  /// Feeds the raw bytes of the same elements, in logical order, to a hash.
  void hash(std::uint64_t start, std::size_t count, StreamHash& st) const {
    for_each_run(start, count, [&](std::uint64_t first, std::size_t, std::size_t run) {
      if (v_.col_stride == 1) {
        st.update(bytes_.data() + first * size_, run * size_);
      } else {
        for (std::size_t k = 0; k < run; ++k) st.update(bytes_.data() + (first + k * v_.col_stride) * size_, size_);
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
      fn(v_.offset + r * v_.row_stride + c * v_.col_stride - origin_, i, run);
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
  std::uint64_t origin_;
};

/// The first n logical elements of both views, decoded to float, with non-finite values as zero:
/// they would poison every permutation of a null alike (the pass reports them in n_nonfinite).
std::pair<std::vector<float>, std::vector<float>> decode_finite(const ViewReader& ra, const ViewReader& rb,
                                                                std::uint64_t n) {
  std::vector<float> a(n), b(n);
  for (std::uint64_t start = 0; start < n; start += kBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n - start));
    ra.read(start, len, a.data() + start, nullptr);
    rb.read(start, len, b.data() + start, nullptr);
  }
  for (auto* v : {&a, &b}) {
    for (auto& x : *v) x = std::isfinite(x) ? x : 0.0f;
  }
  return {std::move(a), std::move(b)};
}

/// Decodes `rows` sampled rows of both sides (read by ra and rb: logical row k is the k-th sampled
/// row) and runs the permutation null on them.
HiddenNull null_of(const ComparisonUnit& unit, const ViewReader& ra, const ViewReader& rb, std::uint64_t rows,
                   const NullOptions& options) {
  const auto axis = null_axis(unit.key_a, unit.rows, unit.cols);
  // Within-model units feed no test; baselines calibrate h only (docs/methods.md), so they
  // skip the basis test, the costlier of the two.
  if (axis == NullAxis::none || rows == 0 || options.permutations <= 0 || unit.kind == UnitKind::within ||
      unit.kind == UnitKind::expert_sketch || unit.kind == UnitKind::layer_sketch) {
    HiddenNull none;
    none.hidden.observed = none.basis.observed = std::numeric_limits<double>::quiet_NaN();
    return none;
  }
  auto [a, b] = decode_finite(ra, rb, rows * unit.cols);
  const auto name = to_string(unit.key_a) + "|" + to_string(unit.key_b);
  const auto seed = XXH3_64bits_withSeed(name.data(), name.size(), options.seed);
  NullOptions used = options;
  if (unit.kind == UnitKind::baseline) used.basis_units = 0;
  // Small same-key units also get the joint test's relabellings (pooled over their family by
  // the verdict); larger units have power of their own.
  used.joint_relabellings =
      unit.kind == UnitKind::same_key && unit.rows * unit.cols <= kJointMaxElements ? kJointRelabellings : 0;
  return hidden_null(a, b, rows, unit.cols, axis, seed, used);
}

/// The expert sketch of one side: its chosen hidden dimensions read over the neuron axis
/// (columns of gate/up [neurons, hidden], rows of down [hidden, neurons]); a few hundred
/// elements per dimension, a small fraction of the pass.
std::vector<float> sketch_of(const ComparisonUnit& unit, const ElementView& view, std::span<const std::byte> bytes) {
  const auto [hidden_rows, dims, neurons] = sketch_layout(unit, view);
  if (dims.empty()) return {};
  std::vector<float> x(kSketchDims * neurons);
  if (hidden_rows) {
    ViewReader(view, view.cols, bytes, dims).read(0, static_cast<std::size_t>(x.size()), x.data(), nullptr);
  } else {
    // The columns' stored bytes gathered in one pass over the rows (a pass per column would walk
    // a large matrix, e.g. an attention projection, 16 times), then each column decoded in one
    // call (a decode call per element, as a run-of-one ViewReader read makes, costs more than the
    // rest of the sketch).
    const std::size_t size = dtype_size(view.dtype);
    std::vector<std::byte> columns(kSketchDims * neurons * size);
    for (std::uint64_t n = 0; n < neurons; ++n) {
      const std::byte* row = bytes.data() + (view.offset + n * view.row_stride) * size;
      for (std::size_t i = 0; i < kSketchDims; ++i) {
        std::memcpy(columns.data() + (i * neurons + n) * size, row + dims[i] * view.col_stride * size, size);
      }
    }
    for (std::size_t i = 0; i < kSketchDims; ++i) {
      io::decode_to_float(view.dtype, std::span<const std::byte>(columns.data() + i * neurons * size, neurons * size),
                          std::span<float>(x.data() + i * neurons, neurons));
      if (view.scales) {
        apply_block_scales(*view.scales, view.offset + dims[i] * view.col_stride, view.row_stride,
                           x.data() + i * neurons, neurons);
      }
    }
  }
  return expert_sketch(x, neurons);
}

/// A side's hash of its stored codes with the factors of the grid rows its view covers folded in
/// (a stacked expert's or a fused half's own rows, not its siblings'): equal hashes mean equal
/// codes and equal factors, that is equal values. `hash` itself for a side without block scales.
std::uint64_t side_hash(std::uint64_t hash, const ElementView& view) {
  if (view.scales == nullptr || view.rows == 0 || view.cols == 0) return hash;
  const auto& s = *view.scales;
  const std::uint64_t last = view.offset + (view.rows - 1) * view.row_stride + (view.cols - 1) * view.col_stride;
  return fold_hashes(hash,
                     grid_rows_hash(s, s.grid_row(view.offset / s.tensor_cols), s.grid_row(last / s.tensor_cols) + 1));
}

/// Whether the decoded floats decide bit equality (their decoding is injective on finite values),
/// or the stored bits must be compared. A block-scaled weight's decoded floats are its values,
/// codes times factors: there equal bits are equal values, not equal stored codes.
BitEquality bit_equality(Dtype a, Dtype b) {
  if (a != b) return BitEquality::none;
  switch (a) {
    case Dtype::F32:
    case Dtype::BF16:
    case Dtype::F16:
    case Dtype::F8_E4M3:
    case Dtype::F8_E5M2:
      return BitEquality::float_bits;
    default:
      return BitEquality::raw_bits;
  }
}

// The elements of a unit, as both hash_unit and execute_unit read them (they must agree: the
// resume re-check compares these hashes): sampled units (baselines) read only the null's rows,
// token-mapped units their mapped rows, the others every row. The readers point into null_rows
// or the unit's rows, so this is neither copied nor moved.
struct UnitViews {
  /// @param[in] origin_a, origin_b  the stored element each span starts at (ViewReader)
  UnitViews(const ComparisonUnit& unit, std::span<const std::byte> a_tensor, std::span<const std::byte> b_tensor,
            const NullOptions& null_options, std::uint64_t origin_a = 0, std::uint64_t origin_b = 0)
      : null_rows(unit.kind == UnitKind::token_mapped ? std::vector<std::uint64_t>()
                                                      : sample_rows(unit.key_a, unit.rows, unit.cols, null_options)),
        // Sketch-only units read only their sketch's elements (sketch_of), none in the pass.
        n_total((unit.kind == UnitKind::expert_sketch || unit.kind == UnitKind::layer_sketch ? 0
                 : unit.kind == UnitKind::token_mapped                                       ? unit.rows_a.size()
                 : unit.sampled                                                              ? null_rows.size()
                                                                                             : unit.rows) *
                unit.cols),
        a(unit.a, unit.cols, a_tensor, row_map(unit, unit.rows_a), origin_a),
        b(unit.b, unit.cols, b_tensor, row_map(unit, unit.rows_b), origin_b) {}
  /// A unit that reads_sampled_rows_only, from copies of its sampled rows (row k of a_rows is
  /// view row null_rows[k]): the readers see each copy as a dense matrix of those rows.
  UnitViews(const ComparisonUnit& unit, std::span<const std::byte> a_rows, std::span<const std::byte> b_rows,
            std::vector<std::uint64_t> rows)
      : null_rows(std::move(rows)),
        n_total(null_rows.size() * unit.cols),
        dense_a(dense_rows(unit.a, unit.cols, null_rows.size())),
        dense_b(dense_rows(unit.b, unit.cols, null_rows.size())),
        a(dense_a, unit.cols, a_rows),
        b(dense_b, unit.cols, b_rows) {}
  UnitViews(const UnitViews&) = delete;
  UnitViews& operator=(const UnitViews&) = delete;

  std::vector<std::uint64_t> null_rows;
  std::uint64_t n_total;
  ElementView dense_a, dense_b;  // copies of sampled rows: their layout, which a and b point to
  ViewReader a, b;

 private:
  static ElementView dense_rows(const ElementView& view, std::uint64_t cols, std::uint64_t rows) {
    ElementView dense = view;
    dense.offset = 0;
    dense.rows = rows;
    dense.cols = cols;
    dense.row_stride = cols;
    dense.col_stride = 1;
    return dense;
  }
  [[nodiscard]] std::span<const std::uint64_t> row_map(const ComparisonUnit& unit,
                                                       const std::vector<std::uint64_t>& mapped) const {
    if (unit.kind == UnitKind::token_mapped) return mapped;
    return unit.sampled ? std::span<const std::uint64_t>(null_rows) : std::span<const std::uint64_t>();
  }
};

/// A token-mapped unit's tests on its mapped rows, decoded whole (at most a few thousand rows):
/// h and g with the hidden relabelling null, as for any embedding unit, and the rotation test
/// (stages/align/token_mapped_embedding.hpp).
void token_mapped_tests(const ComparisonUnit& unit, const ViewReader& ra, const ViewReader& rb, std::uint64_t n,
                        const NullOptions& options, UnitStats& st) {
  auto [a, b] = decode_finite(ra, rb, n);
  const auto name = "token_mapped:" + to_string(unit.key_a);
  const auto seed = XXH3_64bits_withSeed(name.data(), name.size(), options.seed);
  if (options.permutations > 0) {
    const auto null = hidden_null(a, b, unit.rows_a.size(), unit.cols, NullAxis::cols, seed, options);
    st.null_axis = null.axis;
    st.null_rows = unit.rows_a.size();
    st.hidden = null.hidden;
    st.basis = null.basis;
  } else {
    st.hidden.observed = st.basis.observed = std::numeric_limits<double>::quiet_NaN();
  }
  MappedEmbeddingOptions mapped;
  mapped.permutations = std::clamp(options.permutations, 0, mapped.permutations);
  const auto m = compare_mapped_rows(a, b, unit.rows_a.size(), unit.cols, unit.rows_a, unit.rows_b, seed, mapped);
  st.mapped_same_id = m.same_id_share;
  st.mapped_cosine = m.raw_cosine;
  st.rotation_train = m.rotation.train;
  st.rotation_test = m.rotation.test;
  st.rotation_train_cosine = m.rotation.train_cosine;
  st.rotation = m.rotation.heldout;
}

/// Where a pass over a block also hashes and keeps values (execute_unit; a block computed for a
/// merge elsewhere does neither), and gathers sketch elements (an unsplit unit's; null otherwise).
struct PassOutputs {
  StreamHash* hash_a;
  StreamHash* hash_b;
  UnitOutcome* out;
  SketchGather* sketch_a = nullptr;
  SketchGather* sketch_b = nullptr;
};

/// The logical elements of a block: a one-block unit's are all the pass reads (sampled and mapped
/// rows included), a split unit's are its rows.
std::pair<std::uint64_t, std::uint64_t> block_elements(const ComparisonUnit& unit, const UnitViews& views,
                                                       const RowBlock& block) {
  if (block.count == 1) return {0, views.n_total};
  return {block.first_row * unit.cols, std::min(views.n_total, (block.first_row + block.rows) * unit.cols)};
}

/// Asks for every byte of both spans (ArrivingBytes), for what reads them out of order.
void ask_for_all(const ArrivingBytes& arriving, std::span<const std::byte> a, std::span<const std::byte> b) {
  if (arriving.a) arriving.a(a.size());
  if (arriving.b) arriving.b(b.size());
}

/// Adds one block's elements to `sums` kernel block by kernel block, decoded, or as stored where
/// the kernel reads them so (BF16 on AVX2/AVX-512), each kernel block's bytes asked for just
/// before it is read (ArrivingBytes).
void pass_block(const ComparisonUnit& unit, const UnitViews& views, const RowBlock& block, UnitSums& sums,
                const PassOutputs* outputs, const ArrivingBytes& arriving = {}) {
  std::array<float, kBlock> a{}, b{};
  std::array<std::uint64_t, kBlock> bits_a{}, bits_b{};
  const BitEquality bit_mode = bit_equality(unit.a.dtype, unit.b.dtype);
  // Stored bits are copied only when the decoded floats cannot stand for them.
  std::uint64_t* raw_a = bit_mode == BitEquality::raw_bits ? bits_a.data() : nullptr;
  std::uint64_t* raw_b = bit_mode == BitEquality::raw_bits ? bits_b.data() : nullptr;
  const auto [first, end] = block_elements(unit, views, block);
  // A pass over BF16 that keeps no values reads the stored bytes (UnitSums::add_bf16_block,
  // SketchGather::take_bf16) where they lie one after the other and the kernel can read them:
  // the same sums and sketches, no decoding.
  const bool bf16_stored = sums.reads_stored_bf16() && unit.a.dtype == Dtype::BF16 && unit.b.dtype == Dtype::BF16 &&
                           !unit.keep_values && !unit.a.scales && !unit.b.scales;
  for (std::uint64_t start = first; start < end; start += kBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, end - start));
    if (arriving.a) arriving.a(views.a.bytes_through(start + len));
    if (arriving.b) arriving.b(views.b.bytes_through(start + len));
    if (bf16_stored) {
      const auto* stored_a = views.a.consecutive(start, len);
      const auto* stored_b = views.b.consecutive(start, len);
      if (stored_a && stored_b && sums.add_bf16_block(start, stored_a, stored_b, len)) {
        if (outputs) {
          views.a.hash(start, len, *outputs->hash_a);
          views.b.hash(start, len, *outputs->hash_b);
          if (outputs->sketch_a) outputs->sketch_a->take_bf16(start, len, stored_a);
          if (outputs->sketch_b) outputs->sketch_b->take_bf16(start, len, stored_b);
        }
        continue;
      }
    }
    views.a.read(start, len, a.data(), raw_a);
    views.b.read(start, len, b.data(), raw_b);
    if (outputs) {
      views.a.hash(start, len, *outputs->hash_a);
      views.b.hash(start, len, *outputs->hash_b);
      if (outputs->sketch_a) outputs->sketch_a->take(start, len, a.data());
      if (outputs->sketch_b) outputs->sketch_b->take(start, len, b.data());
      if (unit.keep_values) {
        auto& out = *outputs->out;
        out.values_a.insert(out.values_a.end(), a.begin(), a.begin() + static_cast<long>(len));
        out.values_b.insert(out.values_b.end(), b.begin(), b.begin() + static_cast<long>(len));
      }
    }
    sums.add_block(start, a.data(), b.data(), len, bit_mode, raw_a, raw_b);
  }
}

}  // namespace

namespace {

/// The statistics that come from the pass's accumulators alone (what merging row blocks gives).
void set_pass_statistics(const UnitSums& sums, UnitStats& st) {
  const auto& mom = sums;
  const double s_aa = sums.s_aa, s_bb = sums.s_bb, s_ab = sums.s_ab, s_ad = sums.s_ad, s_dd = sums.s_dd;
  const double s_a1 = sums.s_a1, s_b1 = sums.s_b1, s_a1b1 = sums.s_a1b1, max_d = sums.max_d;
  const double min_a = sums.min_a, max_a = sums.max_a, min_b = sums.min_b, max_b = sums.max_b;
  const std::uint64_t n_ok = sums.n_ok, n_bad = sums.n_bad, bit_eq = sums.bit_eq, val_eq = sums.val_eq;
  const auto &h_a = sums.h_a, &h_b = sums.h_b, &h_d = sums.h_d;
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
  st.elements = n_ok;
  st.nonfinite = n_bad;
  st.cosine = cosine;
  st.pearson = varies ? mom.c_ab / std::sqrt(mom.m2_a * mom.m2_b) : nan;
  st.init_centered_cosine = ratio(s_a1b1, std::sqrt(s_a1 * s_b1));
  st.rel_l2 = ratio(std::sqrt(s_dd), std::sqrt(s_aa));
  st.rel_l2_sym = ratio(std::sqrt(s_dd), std::sqrt((s_aa + s_bb) / 2));
  st.mean_abs_diff = n > 0 ? s_ad / n : nan;
  st.max_abs_diff = n > 0 ? max_d : nan;
  st.rms_diff = n > 0 ? std::sqrt(s_dd / n) : nan;
  st.p99_abs_diff = quantile(h_d, sums.n_hist, 0.99);
  st.tail_scale_diff = std::fabs(quantile(h_a, sums.n_hist, 0.99) - quantile(h_b, sums.n_hist, 0.99));
  st.cv_diff = std::fabs(cv_a - cv_b);
  st.frac_bit_equal = n > 0 ? static_cast<double>(bit_eq) / n : nan;
  st.frac_value_equal = n > 0 ? static_cast<double>(val_eq) / n : nan;
  st.marginal_cosine = marginal;
  st.raw_minus_marginal = cosine - marginal;
  st.z_cosine = cosine * std::sqrt(n);
  st.mean_a = n > 0 ? mom.mean_a : nan;
  st.mean_b = n > 0 ? mom.mean_b : nan;
  st.std_a = std_a;
  st.std_b = std_b;
  st.norm_a = std::sqrt(s_aa);
  st.norm_b = std::sqrt(s_bb);
  st.min_a = n > 0 ? min_a : nan;
  st.max_a = n > 0 ? max_a : nan;
  st.min_b = n > 0 ? min_b : nan;
  st.max_b = n > 0 ? max_b : nan;
  st.nonfinite_a = sums.bad_a;
  st.nonfinite_b = sums.bad_b;
  st.nonfinite_mismatch = sums.bad_mismatch;
  if (sums.statistics == PassStatistics::screen) {
    // Not computed by a screening pass (PassStatistics): unknown, not zero.
    st.mean_abs_diff = st.max_abs_diff = st.p99_abs_diff = st.tail_scale_diff = nan;
    st.min_a = st.max_a = st.min_b = st.max_b = nan;
  }
}

/// The statistics that read sampled rows, sketch dimensions or sampled neurons of the whole
/// tensors rather than a pass over every element: the permutation null (or a token-mapped unit's
/// tests), the expert sketches and the neuron matching. They never touch the pass's fields.
/// `gathered_a`, `gathered_b`: a side's sketch elements already gathered by the pass, or null.
void add_sampled_statistics(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                            std::span<const std::byte> b_tensor, const NullOptions& null_options,
                            const UnitViews& views, UnitOutcome& out, const SketchGather* gathered_a = nullptr,
                            const SketchGather* gathered_b = nullptr) {
  auto& st = out.stats;
  if (unit.kind == UnitKind::token_mapped) {
    token_mapped_tests(unit, views.a, views.b, views.n_total, null_options, st);
  } else {
    // A sampled unit's readers already read the null's rows; another unit's read every row.
    const auto null = unit.sampled ? null_of(unit, views.a, views.b, views.null_rows.size(), null_options)
                                   : null_of(unit, ViewReader(unit.a, unit.cols, a_tensor, views.null_rows),
                                             ViewReader(unit.b, unit.cols, b_tensor, views.null_rows),
                                             views.null_rows.size(), null_options);
    st.null_axis = null.axis;
    st.null_rows = views.null_rows.size();
    st.hidden = null.hidden;
    st.basis = null.basis;
    out.joint_null = null.joint;
  }
  if (unit.sketch) {
    out.sketch_a = gathered_a && gathered_a->active() ? gathered_a->sketch() : sketch_of(unit, unit.a, a_tensor);
    out.sketch_b = gathered_b && gathered_b->active() ? gathered_b->sketch() : sketch_of(unit, unit.b, b_tensor);
  }
  // Neuron matching of MLP units (same switch as the null: off without permutation tests).
  st.neuron.observed = std::numeric_limits<double>::quiet_NaN();
  if (null_options.permutations > 0) {
    const auto neurons = match_unit_neurons(unit, a_tensor, b_tensor);
    if (neurons.defined()) {
      st.neuron_sampled = neurons.sampled.size();
      st.neuron_in_place = neurons.in_place;
      st.neuron_sketch_dims = neurons.sketch_dims;
      st.neuron_margin = neurons.margin;
      st.neuron = neurons.matched;
      out.neuron_sampled = neurons.sampled;
      out.neuron_match = neurons.match;
    }
  }
}

/// XXH3-64 of a side's block hashes in block order (8 little-endian bytes each): a split unit's hash.
std::uint64_t hash_of_block_hashes(const std::vector<std::uint64_t>& hashes) {
  return XXH3_64bits(hashes.data(), hashes.size() * sizeof(std::uint64_t));
}

}  // namespace

std::pair<std::vector<float>, std::vector<float>> unit_sketches(const ComparisonUnit& unit,
                                                                std::span<const std::byte> a_tensor,
                                                                std::span<const std::byte> b_tensor) {
  if (!unit.sketch) return {};
  return {sketch_of(unit, unit.a, a_tensor), sketch_of(unit, unit.b, b_tensor)};
}

std::vector<std::uint64_t> sketch_rows(const ComparisonUnit& unit, const ElementView& view) {
  if (!unit.sketch || view.col_stride != 1) return {};
  auto layout = sketch_layout(unit, view);
  if (!layout.hidden_rows) return {};
  return std::move(layout.dims);
}

std::vector<float> sketch_from_rows(const ElementView& view, std::span<const std::byte> rows) {
  const std::uint64_t neurons = view.cols;
  if (rows.size() != kSketchDims * neurons * dtype_size(view.dtype)) {
    throw InternalError("sketch_from_rows: " + std::to_string(rows.size()) + " bytes are not " +
                        std::to_string(kSketchDims) + " rows of " + std::to_string(neurons) + " elements");
  }
  // Decoding is element by element: one call over the rows gives what the mapped reader's call
  // per row gives.
  std::vector<float> x(kSketchDims * neurons);
  io::decode_to_float(view.dtype, rows, x);
  if (view.scales) {
    // Row i of the copy is the view's sketch row sketch_dims(view.rows)[i] (sketch_rows).
    const auto dims = sketch_dims(view.rows);
    for (std::size_t i = 0; i < dims.size(); ++i) {
      apply_block_scales(*view.scales, view.offset + dims[i] * view.row_stride, 1, x.data() + i * neurons, neurons);
    }
  }
  return expert_sketch(x, neurons);
}

UnitHashes row_block_hashes(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                            std::span<const std::byte> b_tensor, const RowBlock& block,
                            const NullOptions& null_options) {
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  const auto [first, end] = block_elements(unit, views, block);
  StreamHash st_a, st_b;
  views.a.hash(first, static_cast<std::size_t>(end - first), st_a);
  views.b.hash(first, static_cast<std::size_t>(end - first), st_b);
  return {side_hash(st_a.digest(), unit.a), side_hash(st_b.digest(), unit.b)};
}

UnitHashes hash_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                     std::span<const std::byte> b_tensor, const NullOptions& null_options, std::uint64_t block_bytes) {
  const auto blocks = row_blocks(unit, block_bytes);
  if (blocks.size() > 1) {
    std::vector<std::uint64_t> ha, hb;
    for (const auto& block : blocks) {
      const auto h = row_block_hashes(unit, a_tensor, b_tensor, block, null_options);
      ha.push_back(h.a);
      hb.push_back(h.b);
    }
    return {hash_of_block_hashes(ha), hash_of_block_hashes(hb)};
  }
  // The elements execute_unit hashes (UnitViews). XXH3's streaming digest does not depend on
  // how the input is split, so one update per view suffices.
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  StreamHash st_a, st_b;
  views.a.hash(0, static_cast<std::size_t>(views.n_total), st_a);
  views.b.hash(0, static_cast<std::size_t>(views.n_total), st_b);
  return {side_hash(st_a.digest(), unit.a), side_hash(st_b.digest(), unit.b)};
}

UnitSums row_block_sums(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                        std::span<const std::byte> b_tensor, const RowBlock& block, const NullOptions& null_options) {
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  UnitSums sums(views.n_total, pass_statistics(unit));
  pass_block(unit, views, block, sums, nullptr);
  return sums;
}

namespace {

RowBlockPartial partial_of(const ComparisonUnit& unit, const UnitViews& views, const RowBlock& block,
                           const ArrivingBytes& arriving = {}) {
  RowBlockPartial part;
  part.block = block;
  part.sums = UnitSums(views.n_total, pass_statistics(unit));
  StreamHash st_a, st_b;
  UnitOutcome unused;  // a split unit keeps no values (splits_into_row_blocks)
  const PassOutputs outputs{&st_a, &st_b, &unused};
  pass_block(unit, views, block, part.sums, &outputs, arriving);
  part.hash_a = side_hash(st_a.digest(), unit.a);
  part.hash_b = side_hash(st_b.digest(), unit.b);
  return part;
}

}  // namespace

RowBlockPartial row_block_partial(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                  std::span<const std::byte> b_tensor, const RowBlock& block,
                                  const NullOptions& null_options) {
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  return partial_of(unit, views, block);
}

std::pair<std::uint64_t, std::uint64_t> stored_rows(const ElementView& view, std::uint64_t first_row,
                                                    std::uint64_t rows) noexcept {
  const std::uint64_t first = view.offset + first_row * view.row_stride;
  const std::uint64_t last =
      first + (rows ? rows - 1 : 0) * view.row_stride + (view.cols ? view.cols - 1 : 0) * view.col_stride;
  return {first, last + 1};
}

RowBlockPartial row_block_partial_of_rows(const ComparisonUnit& unit, std::span<const std::byte> a_rows,
                                          std::span<const std::byte> b_rows, const RowBlock& block,
                                          const NullOptions& null_options, const ArrivingBytes& arriving) {
  if (!splits_into_row_blocks(unit)) {
    // Sampled and token-mapped units read rows anywhere in the tensor, not the block's alone.
    throw InternalError("row_block_partial_of_rows: unit " + std::to_string(unit.id) + " is not split by rows");
  }
  // The stored element each copy starts at, once its length is checked.
  const auto origin = [&](const ElementView& view, std::span<const std::byte> rows) {
    const auto [first, end] = stored_rows(view, block.first_row, block.rows);
    if (rows.size() < (end - first) * dtype_size(view.dtype)) {
      throw InternalError("row_block_partial_of_rows: " + std::to_string(rows.size()) + " bytes for rows " +
                          std::to_string(block.first_row) + "+" + std::to_string(block.rows) + " of '" +
                          view.tensor.str() + "', which span " + std::to_string(end - first) + " elements");
    }
    return first;
  };
  const UnitViews views(unit, a_rows, b_rows, null_options, origin(unit.a, a_rows), origin(unit.b, b_rows));
  auto part = partial_of(unit, views, block, arriving);
  ask_for_all(arriving, a_rows, b_rows);  // the promise of ArrivingBytes, whatever the views read
  return part;
}

UnitOutcome unit_sampled_outcome(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                 std::span<const std::byte> b_tensor, const NullOptions& null_options) {
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  UnitOutcome out;
  out.unit_id = unit.id;
  add_sampled_statistics(unit, a_tensor, b_tensor, null_options, views, out);
  return out;
}

namespace {

/// Blocks 0..count-1 of `unit`, one at a time from `next(i)`, merged in block order from empty
/// sums (the first merge is a copy: execute_unit's order exactly), with the hash of the block hashes.
UnitOutcome merge_blocks(const ComparisonUnit& unit, UnitOutcome* sampled, std::uint64_t count,
                         const std::function<RowBlockPartial(std::uint64_t)>& next) {
  if (count == 0) throw InternalError("merge_row_blocks: unit " + std::to_string(unit.id) + " has no blocks");
  std::optional<UnitSums> sums;
  std::vector<std::uint64_t> ha, hb;
  UnitOutcome out;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto p = next(i);
    if (p.block.unit_id != unit.id || p.block.index != i || p.block.count != count) {
      throw InternalError("merge_row_blocks: unit " + std::to_string(unit.id) + ": block " + std::to_string(i) +
                          " is missing or out of order");
    }
    if (!sums) {
      sums.emplace(0, p.sums.statistics);
      sums->hist_stride = p.sums.hist_stride;
      if (sampled) {
        out = std::move(*sampled);
      } else if (p.sampled) {
        out = std::move(*p.sampled);
      } else {
        throw InternalError("merge_row_blocks: block 0 of unit " + std::to_string(unit.id) +
                            " lacks the unit's sampled statistics");
      }
    }
    sums->merge(p.sums);
    ha.push_back(p.hash_a);
    hb.push_back(p.hash_b);
  }
  out.unit_id = unit.id;
  set_pass_statistics(*sums, out.stats);
  out.hash_a = hash_of_block_hashes(ha);
  out.hash_b = hash_of_block_hashes(hb);
  return out;
}

}  // namespace

UnitOutcome merge_row_blocks(const ComparisonUnit& unit, UnitOutcome sampled,
                             std::span<const RowBlockPartial> partials) {
  if (partials.empty()) throw InternalError("merge_row_blocks: unit " + std::to_string(unit.id) + " has no blocks");
  const auto count = partials.front().block.count;
  if (partials.size() != count) {
    throw InternalError("merge_row_blocks: unit " + std::to_string(unit.id) + " has " +
                        std::to_string(partials.size()) + " of its " + std::to_string(count) + " row blocks");
  }
  return merge_blocks(unit, &sampled, count, [&](std::uint64_t i) { return partials[i]; });
}

UnitOutcome merge_row_blocks(const ComparisonUnit& unit, std::uint64_t count,
                             const std::function<RowBlockPartial(std::uint64_t)>& block_at) {
  return merge_blocks(unit, nullptr, count, block_at);
}

namespace {

/// An unsplit unit's outcome from its views: the pass over `block` (its only one) with the
/// hashes, the values it keeps, and the sampled statistics.
UnitOutcome whole_unit_outcome(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                               std::span<const std::byte> b_tensor, const NullOptions& null_options,
                               const UnitViews& views, const RowBlock& block, const ArrivingBytes& arriving = {}) {
  StreamHash st_a, st_b;
  UnitOutcome out;
  out.unit_id = unit.id;
  if (unit.keep_values) {
    out.values_a.reserve(views.n_total);
    out.values_b.reserve(views.n_total);
  }
  UnitSums sums(views.n_total, pass_statistics(unit));
  SketchGather sketch_a(unit, unit.a, views.n_total), sketch_b(unit, unit.b, views.n_total);
  const PassOutputs outputs{&st_a, &st_b, &out, &sketch_a, &sketch_b};
  pass_block(unit, views, block, sums, &outputs, arriving);
  // What follows reads anywhere in the tensors.
  ask_for_all(arriving, a_tensor, b_tensor);
  // A router whose expert count differs (pruned, added experts) keeps every row of both sides,
  // not only the common ones: the expert matching needs all of them (docs/methods.md).
  if (unit.keep_values && unit.kind == UnitKind::submatrix && unit.key_a.role == TensorRole::router &&
      unit.a.cols == unit.cols && unit.b.cols == unit.cols) {
    for (auto [view, bytes, values] :
         {std::tuple{&unit.a, a_tensor, &out.values_a}, std::tuple{&unit.b, b_tensor, &out.values_b}}) {
      const ViewReader whole(*view, unit.cols, bytes);
      const std::uint64_t n = view->rows * unit.cols;
      values->assign(n, 0.0f);
      for (std::uint64_t start = 0; start < n; start += kBlock) {
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, n - start));
        whole.read(start, len, values->data() + start, nullptr);
      }
    }
  }
  out.hash_a = side_hash(st_a.digest(), unit.a);
  out.hash_b = side_hash(st_b.digest(), unit.b);
  set_pass_statistics(sums, out.stats);
  add_sampled_statistics(unit, a_tensor, b_tensor, null_options, views, out, &sketch_a, &sketch_b);
  return out;
}

}  // namespace

UnitOutcome execute_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                         std::span<const std::byte> b_tensor, const NullOptions& null_options,
                         std::uint64_t block_bytes, const ArrivingBytes& arriving) {
  // A split unit: its blocks one after the other, as ranks would compute them, merged in block
  // order with what is sampled from the whole tensors; the same function as the distributed pass.
  const auto blocks = row_blocks(unit, block_bytes);
  if (blocks.size() > 1) {
    ask_for_all(arriving, a_tensor, b_tensor);  // the blocks and the sampled statistics read anywhere
    // One block's accumulators in memory at a time, as the merge after a distributed pass holds.
    return merge_row_blocks(unit, blocks.size(), [&](std::uint64_t i) {
      auto part = row_block_partial(unit, a_tensor, b_tensor, blocks[i], null_options);
      if (i == 0) part.sampled = unit_sampled_outcome(unit, a_tensor, b_tensor, null_options);
      return part;
    });
  }
  const UnitViews views(unit, a_tensor, b_tensor, null_options);
  return whole_unit_outcome(unit, a_tensor, b_tensor, null_options, views, blocks[0], arriving);
}

bool reads_sampled_rows_only(const ComparisonUnit& unit) noexcept {
  // A copy of sampled rows no longer says where its elements were stored, which block scales need.
  return unit.sampled && (unit.kind == UnitKind::baseline || unit.kind == UnitKind::within) && unit.sampled_rows > 0 &&
         !unit.sketch && !unit.keep_values && unit.a.col_stride == 1 && unit.b.col_stride == 1 && !unit.a.scales &&
         !unit.b.scales;
}

std::vector<std::uint64_t> sampled_rows_of(const ComparisonUnit& unit, const NullOptions& null_options) {
  return sample_rows(unit.key_a, unit.rows, unit.cols, null_options);  // UnitViews' null_rows
}

UnitOutcome execute_unit_of_sampled_rows(const ComparisonUnit& unit, std::span<const std::byte> a_rows,
                                         std::span<const std::byte> b_rows, const NullOptions& null_options) {
  if (!reads_sampled_rows_only(unit)) {
    throw InternalError("execute_unit_of_sampled_rows: unit " + std::to_string(unit.id) +
                        " reads more than its sampled rows");
  }
  auto rows = sampled_rows_of(unit, null_options);
  for (const auto& [view, bytes] : {std::pair{&unit.a, a_rows}, std::pair{&unit.b, b_rows}}) {
    if (bytes.size() != rows.size() * unit.cols * dtype_size(view->dtype)) {
      throw InternalError("execute_unit_of_sampled_rows: " + std::to_string(bytes.size()) + " bytes are not " +
                          std::to_string(rows.size()) + " rows of " + std::to_string(unit.cols) + " elements of '" +
                          view->tensor.str() + "'");
    }
  }
  const UnitViews views(unit, a_rows, b_rows, std::move(rows));
  // One block: a sampled unit is never split (splits_into_row_blocks).
  return whole_unit_outcome(unit, a_rows, b_rows, null_options, views,
                            RowBlock{.unit_id = unit.id, .count = 1, .rows = unit.rows});
}

}  // namespace lineage::stages
