#include "stages/execute/unit_kernel.hpp"

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

// The kernel tells NaN and infinities from finite values, and its sums' limits from their bounds:
// an option that lets the compiler assume every value finite would silently change its results.
#if defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "stages/execute/unit_kernel.cpp needs IEEE NaN and infinities: build it without -ffinite-math-only (-ffast-math)"
#endif

namespace lineage::stages {
namespace {

// Eight float lanes per step, the element at lane i of step v being element 8v + i; a block's
// sums are taken in those float lanes (FloatStepSums), and where they cannot be trusted in eight
// double lanes (LaneSums, the fallback), computed four at a time (one AVX2 register: eight-lane
// double vectors, two AVX2 registers each, were spilled and their selects scalarised, 4x
// slower), or all eight in one AVX-512 register where the machine has it (pass1_wide).
// Element-wise IEEE operations, so every ISA lowering gives the same result.
using f8 = float __attribute__((vector_size(32)));
using i8 = std::int32_t __attribute__((vector_size(32)));
using f4 = float __attribute__((vector_size(16)));
using i4 = std::int32_t __attribute__((vector_size(16)));
using d4 = double __attribute__((vector_size(32)));
using l4 = std::int64_t __attribute__((vector_size(32)));
constexpr std::size_t kLanes = 8;

// One function per ISA, chosen at run time (pass1_of). The file is compiled with
// -ffp-contract=off (see CMakeLists.txt): a fused multiply-add in one function and not in another
// would change last bits between machines of one cluster. (Fused on every width was tried and
// not kept: without FMA in the machine, glibc's correctly rounded fma() made the portable width
// tens of times slower; docs/benchmarks.md, "sixteenth session".)
// - portable: no target of its own (any x86-64, or any other machine), the compiler's generic
//   vectors;
// - narrow (x86-64-v3, AVX2): the float lanes in one register; the fallback's four double lanes
//   in one register, two loops, each float made a double by one instruction (WidenByInstruction);
// - wide (x86-64-v4, AVX-512): the same float lanes; the fallback's eight double lanes in one
//   register and one loop.
// The operations of each lane are the same in all three, so are the bits (unit_kernel_test runs
// every width the machine has).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LINEAGE_KERNEL_WIDE 1
#define LINEAGE_KERNEL_NARROW_TARGET __attribute__((target("arch=x86-64-v3")))
#define LINEAGE_KERNEL_WIDE_TARGET __attribute__((target("arch=x86-64-v4")))
#else
#define LINEAGE_KERNEL_WIDE 0
#endif

/// One block's sums. s_aa, s_bb, s_ab, s_a and s_b are of the shifted values x - ka, y - kb.
struct Pass1 {
  double s_aa = 0, s_bb = 0, s_ab = 0, s_ad = 0, s_dd = 0, s_a = 0, s_b = 0, max_d = 0;
  float min_a = INFINITY, max_a = -INFINITY, min_b = INFINITY, max_b = -INFINITY;
  std::int64_t n_ok = 0, fin_a = 0, fin_b = 0, mismatch = 0, val_eq = 0, bit_eq = 0;
};

template <typename V>
[[gnu::always_inline]] inline V splat(std::remove_cvref_t<decltype(V{}[0])> x) {
  V v;
  for (std::size_t i = 0; i < sizeof(V) / sizeof(x); ++i) v[i] = x;
  return v;
}

template <typename V>
[[gnu::always_inline]] inline double hsum(V v) {  // fixed lane order
  double s = 0;
  for (std::size_t i = 0; i < kLanes; ++i) s += static_cast<double>(v[i]);
  return s;
}

/// Elements that are not a multiple of 8 are padded with NaN on both sides: never finite, equal
/// as NaN, so they add to no sum and no count below (every count is of finite elements).
struct Padded {
  alignas(32) float a[kLanes], b[kLanes];
  Padded(const float* pa, const float* pb, std::size_t n) {
    for (std::size_t i = 0; i < kLanes; ++i) {
      a[i] = i < n ? pa[i] : std::numeric_limits<float>::quiet_NaN();
      b[i] = i < n ? pb[i] : std::numeric_limits<float>::quiet_NaN();
    }
  }
};

#if LINEAGE_KERNEL_WIDE
using d8 = double __attribute__((vector_size(64)));
using l8 = std::int64_t __attribute__((vector_size(64)));
#endif

/// Floats made doubles, exactly, as the compiler lowers the generic conversion: GCC 12 makes
/// four floats two conversions of two and an insert, eight two of four and an insert.
struct WidenByConversion {
  template <typename D, typename F>
  [[gnu::always_inline]] static D to(F x) {
    return __builtin_convertvector(x, D);
  }
};
#if LINEAGE_KERNEL_WIDE
/// The same in one instruction (vcvtps2pd: four floats to a YMM register of doubles, eight to a
/// ZMM one). Only inlined into functions whose target has AVX2 (four) or AVX-512 (eight); an
/// intrinsic could not be, as lane_sums has no target of its own.
struct WidenByInstruction {
  template <typename D, typename F>
  [[gnu::always_inline]] static D to(F x) {
    D out;
    asm("vcvtps2pd %1, %0" : "=v"(out) : "v"(x));
    return out;
  }
};
#endif

/// The double sums of every lane of a step (lane i of a step is element 8v + i, as in pass1).
struct LaneSums {
  double s_aa[8], s_bb[8], s_ab[8], s_ad[8], s_dd[8], s_a[8], s_b[8], max_d[8];
};

/// The double sums of W lanes (W the lanes of D, L its 64-bit integer vector) as a loop adds them
/// step by step: the one step of lane_sums and stored_bf16_lane_sums. With Screen, no absolute
/// differences (s_ad, max_d).
template <bool Screen, typename D, typename L>
struct StepSums {
  D s_aa{}, s_bb{}, s_ab{}, s_ad{}, s_dd{}, s_a{}, s_b{}, max_d{};

  /// One step: the shifted values xs = x - ka and ys = y - kb, and d = x - y.
  [[gnu::always_inline]] void add(D xs, D ys, D d) {
    s_aa += xs * xs;
    s_bb += ys * ys;
    s_ab += xs * ys;
    s_dd += d * d;
    s_a += xs;
    s_b += ys;
    if constexpr (!Screen) {
      const D ad = __builtin_bit_cast(D, __builtin_bit_cast(L, d) & splat<L>(0x7fffffffffffffffLL));
      s_ad += ad;
      max_d = ad > max_d ? ad : max_d;
    }
  }

  /// Into lanes first .. first + W - 1 of `r`.
  [[gnu::always_inline]] void store(std::size_t first, LaneSums& r) const {
    for (std::size_t j = 0; j < sizeof(D) / sizeof(double); ++j) {
      const std::size_t i = first + j;
      r.s_aa[i] = s_aa[j], r.s_bb[i] = s_bb[j], r.s_ab[i] = s_ab[j], r.s_ad[i] = s_ad[j], r.s_dd[i] = s_dd[j];
      r.s_a[i] = s_a[j], r.s_b[i] = s_b[j], r.max_d[i] = max_d[j];
    }
  }
};

/// pass1's double sums of lanes first .. first + W - 1 of every step, W the lanes of D: four in
/// one AVX2 register (pass1_narrow: lanes 0-3, then 4-7, so the eight sums stay in registers;
/// eight-lane double vectors on AVX2 were spilled and their selects scalarised), or all eight in
/// one AVX-512 register (pass1_wide). Either way each lane sees the same operations in the same
/// order. Without Masked every element is finite on both sides (pass1 checked), so the masks
/// would select every lane: the same operations, the same bits. With Screen (a screening pass)
/// the absolute differences (s_ad, max_d) are left out; the other sums are the same operations.
template <bool Masked, bool Screen, typename Widen, typename F, typename I, typename D, typename L>
[[gnu::always_inline]] inline void lane_sums(const float* a, const float* b, std::size_t nvec, const Padded* tail,
                                             std::size_t first, double ka, double kb, LaneSums& r) {
  const I exp_mask = splat<I>(0x7f800000);
  const D vka = splat<D>(ka), vkb = splat<D>(kb);
  StepSums<Screen, D, L> sums;
  const std::size_t steps = nvec + (tail ? 1 : 0);
  for (std::size_t v = 0; v < steps; ++v) {
    const float* pa = (v < nvec ? a + v * kLanes : tail->a) + first;
    const float* pb = (v < nvec ? b + v * kLanes : tail->b) + first;
    F x, y;
    std::memcpy(&x, pa, sizeof x);
    std::memcpy(&y, pb, sizeof y);
    D xd, yd, xs, ys;
    if constexpr (Masked) {
      // Excluded elements become 0 and add nothing to the sums.
      const I xi = __builtin_bit_cast(I, x), yi = __builtin_bit_cast(I, y);
      const I ok = ((xi & exp_mask) != exp_mask) & ((yi & exp_mask) != exp_mask);
      const L ok64 = __builtin_convertvector(ok, L);
      xd = Widen::template to<D>(__builtin_bit_cast(F, xi & ok));
      yd = Widen::template to<D>(__builtin_bit_cast(F, yi & ok));
      xs = __builtin_bit_cast(D, __builtin_bit_cast(L, xd - vka) & ok64);  // ok ? xd - ka : +0
      ys = __builtin_bit_cast(D, __builtin_bit_cast(L, yd - vkb) & ok64);
    } else {
      xd = Widen::template to<D>(x);
      yd = Widen::template to<D>(y);
      xs = xd - vka;
      ys = yd - vkb;
    }
    sums.add(xs, ys, xd - yd);
  }
  sums.store(first, r);
}

/// Lanes 0..7 in order, as hsum adds a vector's lanes.
[[gnu::always_inline]] inline double lane_sum(const double (&v)[8]) {
  double s = 0;
  for (std::size_t i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

/// Lanes 0..7 of float sums in order, added in double.
[[gnu::always_inline]] inline double lane_sum(const float (&v)[8]) {
  double s = 0;
  for (std::size_t i = 0; i < kLanes; ++i) s += static_cast<double>(v[i]);
  return s;
}

/// One block's sums in eight float lanes (lane i of a step is element 8v + i): of the shifted
/// values xs = x - ka and ys = y - kb (squares, and xs alone), of the shifted differences
/// ds = (x - y) - kd (squares, alone, and times xs: what the two sides' difference needs, summed
/// for itself so that it keeps its own precision, float_sums_into), and of |x - y|.
struct FloatLaneSums {
  float s_aa[8], s_bb[8], s_dd[8], s_a[8], s_d[8], s_ad[8], max_d[8], s_xd[8];
};

/// The float sums of the eight lanes as a loop adds them step by step. With Screen, no absolute
/// differences (s_ad, max_d). Float lanes take fewer operations than double ones per element and
/// no conversions; within one block of 4,096 elements (512 per lane) their rounding stays near
/// 1e-6 relative, and the sums the cosines need are taken so that near cosine 1 it cancels
/// (float_sums_into).
template <bool Screen>
struct FloatStepSums {
  f8 s_aa{}, s_bb{}, s_dd{}, s_a{}, s_d{}, s_xd{}, s_ad{}, max_d{};

  /// One step: xs = x - ka, ys = y - kb, d = x - y and ds = d - kd.
  [[gnu::always_inline]] void add(f8 xs, f8 ys, f8 d, f8 ds) {
    s_aa += xs * xs;
    s_bb += ys * ys;
    s_dd += ds * ds;
    s_a += xs;
    s_d += ds;
    s_xd += xs * ds;
    if constexpr (!Screen) {
      const f8 ad = __builtin_bit_cast(f8, __builtin_bit_cast(i8, d) & splat<i8>(0x7fffffff));
      s_ad += ad;
      max_d = ad > max_d ? ad : max_d;
    }
  }

  [[gnu::always_inline]] void store(FloatLaneSums& r) const {
    for (std::size_t i = 0; i < kLanes; ++i) {
      r.s_aa[i] = s_aa[i], r.s_bb[i] = s_bb[i], r.s_dd[i] = s_dd[i], r.s_a[i] = s_a[i], r.s_d[i] = s_d[i];
      r.s_xd[i] = s_xd[i], r.s_ad[i] = s_ad[i], r.max_d[i] = max_d[i];
    }
  }
};

/// The shifts of one block as the float lanes take them: a and b (already floats, `shifts` rounds
/// them) and d, the float nearest a - b, each also in every lane (ka, kb, kd). float_sums_into
/// takes d from here, so the lanes and the sums' corrections cannot round it differently.
struct FloatShifts {
  double a, b, d;
  f8 ka, kb, kd;
  FloatShifts(double shift_a, double shift_b)
      : a(shift_a),
        b(shift_b),
        d(static_cast<float>(shift_a - shift_b)),
        ka(splat<f8>(static_cast<float>(a))),
        kb(splat<f8>(static_cast<float>(b))),
        kd(splat<f8>(static_cast<float>(d))) {}
};

/// `value` where `ok` is set, +0 elsewhere. A function always inlined, not a lambda: a lambda's
/// call operator keeps the default target, and an unoptimised build would pass the vector between
/// it and the AVX2 or AVX-512 functions in different registers.
[[gnu::always_inline]] inline f8 kept(f8 value, i8 ok) {
  return __builtin_bit_cast(f8, __builtin_bit_cast(i8, value) & ok);
}

/// pass1's sums of every step in float lanes, with masks: excluded elements (not finite on either
/// side, and the padded tail's NaN) add +0 to every sum. Where every element is finite the masks
/// would select every lane: finite_float_sums takes the same operations without them.
template <bool Screen>
[[gnu::always_inline]] inline void masked_float_lane_sums(const float* a, const float* b, std::size_t nvec,
                                                          const Padded* tail, const FloatShifts& k, FloatLaneSums& r) {
  const i8 exp_mask = splat<i8>(0x7f800000);
  FloatStepSums<Screen> sums;
  const std::size_t steps = nvec + (tail ? 1 : 0);
  for (std::size_t v = 0; v < steps; ++v) {
    f8 x, y;
    std::memcpy(&x, v < nvec ? a + v * kLanes : tail->a, sizeof x);
    std::memcpy(&y, v < nvec ? b + v * kLanes : tail->b, sizeof y);
    const f8 d = x - y;
    const i8 xi = __builtin_bit_cast(i8, x), yi = __builtin_bit_cast(i8, y);
    const i8 ok = ((xi & exp_mask) != exp_mask) & ((yi & exp_mask) != exp_mask);
    sums.add(kept(x - k.ka, ok), kept(y - k.kb, ok), kept(d, ok), kept(d - k.kd, ok));
  }
  sums.store(r);
}

/// The least sum of squares of a block's shifted values (s_aa, s_bb) its float sums are taken
/// for: below it a square may have lost bits below float's normal range (values under about
/// 1e-15, or a block all equal to its shift, such as zeros).
constexpr double kLeastFloatSquares = 0x1p-96;
/// The bound under which Σ|x - y|'s float sum cannot overflow: it is at most sqrt(n Σds²) + n |kd|.
/// Checked from the sums both passes take, so a screening pass (which sums no |x - y|) falls back
/// to double lanes exactly where the full pass does. (With finite shifted squares over
/// kLeastFloatSquares it holds anyway: a side of values near 1e35 has shifted values of at least
/// its spacing there, whose squares overflow; the check keeps that reasoning out of the choice.)
constexpr double kGreatestFloatAbsoluteSum = 0x1p120;

/// A block's float lane sums into `r` (whose n_ok the counts set): s_aa and s_a as they are;
/// s_b, s_ab, s_bb and the raw s_dd, which the double lanes sum directly, from the sums of the
/// shifted differences. Near cosine 1 (a fine-tune, also one that scales its parent, as weight
/// decay does) the two sides' sums differ by less than their float rounding could tell, and the
/// cosines are 1 less a difference of such sums. Taken from the differences' own sums instead,
/// s_b = s_a - Σ(xs - ys), s_ab = s_aa - Σxs(xs - ys) and s_bb = s_aa - 2 Σxs(xs - ys) +
/// Σ(xs - ys)² share s_aa's rounding, which cancels from every 1 - cosine: that keeps its
/// relative precision (float sums of the products would leave it about 1e-6 absolute, several
/// times 1 - cos for a light fine-tune). s_bb is taken so only where the sides' sums of squares
/// are within a factor of 4 (a derived s_bb far below s_aa would carry s_aa's rounding, a
/// relative error as large as their ratio); elsewhere s_bb is its own sum and s_ab = (s_aa + s_bb
/// - Σ(xs - ys)²) / 2, so 1 - cos of a side rescaled by 2 or more errs about 1e-6 absolute
/// (docs/methods.md). Returns false, with the sums untouched, where the float sums cannot be
/// trusted: a sum not finite (values near float's largest), s_aa or s_bb under
/// kLeastFloatSquares, or Σ|x - y| possibly beyond kGreatestFloatAbsoluteSum; the caller then
/// sums the block in double lanes.
template <bool Screen>
[[gnu::always_inline]] inline bool float_sums_into(const FloatLaneSums& f, const FloatShifts& k, Pass1& r) {
  const double s_aa = lane_sum(f.s_aa), s_bb = lane_sum(f.s_bb), s_ds = lane_sum(f.s_dd);
  const double s_a = lane_sum(f.s_a), sum_ds = lane_sum(f.s_d), s_xd = lane_sum(f.s_xd);
  if (!std::isfinite(s_aa + s_bb + s_ds + s_a + sum_ds + s_xd)) return false;
  if (!(s_aa >= kLeastFloatSquares && s_bb >= kLeastFloatSquares)) return false;
  const auto n = static_cast<double>(r.n_ok);
  const double kd = k.d;
  if (!(std::sqrt(n * s_ds) + n * std::fabs(kd) < kGreatestFloatAbsoluteSum)) return false;
  // xs - ys = ds + e, e the shift's rounding.
  const double e = kd - (k.a - k.b);
  const double shifted_dd = s_ds + 2 * e * sum_ds + n * e * e;  // Σ(xs - ys)²
  const double shifted_xd = s_xd + e * s_a;                     // Σxs(xs - ys)
  r.s_aa = s_aa, r.s_a = s_a, r.s_b = s_a - (sum_ds + n * e);
  if (s_bb <= 4 * s_aa && s_aa <= 4 * s_bb) {
    r.s_ab = s_aa - shifted_xd;
    r.s_bb = s_aa - 2 * shifted_xd + shifted_dd;
  } else {
    r.s_ab = (s_aa + s_bb - shifted_dd) / 2;
    r.s_bb = s_bb;
  }
  r.s_dd = s_ds + 2 * kd * sum_ds + n * kd * kd;  // Σ(ds + kd)² = Σ(x - y)²
  if constexpr (!Screen) {
    r.s_ad = lane_sum(f.s_ad);
    for (std::size_t i = 0; i < kLanes; ++i) r.max_d = std::max(r.max_d, static_cast<double>(f.max_d[i]));
  }
  return true;
}

/// Eight float lanes of extremes (an f8 each, or an array of eight) folded into r's, lanes in order.
template <typename Lanes>
[[gnu::always_inline]] inline void fold_extremes(const Lanes& min_a, const Lanes& max_a, const Lanes& min_b,
                                                 const Lanes& max_b, Pass1& r) {
  for (std::size_t i = 0; i < kLanes; ++i) {
    r.min_a = std::min(r.min_a, min_a[i]), r.max_a = std::max(r.max_a, max_a[i]);
    r.min_b = std::min(r.min_b, min_b[i]), r.max_b = std::max(r.max_b, max_b[i]);
  }
}

/// Counts and extremes in eight float lanes. With Masked, every element as it is; without, the
/// block is assumed finite on both sides (every mask would select every lane) and false is
/// returned, with `r` untouched, as soon as the assumption fails. With Screen, no extremes.
template <bool Masked, bool Screen>
[[gnu::always_inline]] inline bool counts_and_extremes(const float* a, const float* b, std::size_t nvec,
                                                       const Padded* tail, bool float_bits, Pass1& r) {
  const i8 exp_mask = splat<i8>(0x7f800000), abs_mask = splat<i8>(0x7fffffff);
  const f8 inf = splat<f8>(INFINITY), ninf = splat<f8>(-INFINITY);
  const i8 bits_on = float_bits ? splat<i8>(-1) : splat<i8>(0);
  f8 min_a = inf, max_a = ninf, min_b = inf, max_b = ninf;
  i8 c_ok{}, c_fa{}, c_fb{}, c_mis{}, c_val{}, c_bit{};  // minus the count (masks are -1)
  i8 nonfinite{};
  const std::size_t steps = nvec + (tail ? 1 : 0);
  for (std::size_t v = 0; v < steps; ++v) {
    const float* pa = v < nvec ? a + v * kLanes : tail->a;
    const float* pb = v < nvec ? b + v * kLanes : tail->b;
    f8 x, y;
    std::memcpy(&x, pa, sizeof x);
    std::memcpy(&y, pb, sizeof y);
    const i8 xi = __builtin_bit_cast(i8, x), yi = __builtin_bit_cast(i8, y);
    if constexpr (Masked) {
      const i8 fa = (xi & exp_mask) != exp_mask, fb = (yi & exp_mask) != exp_mask;
      const i8 ok = fa & fb;
      const i8 nan_a = (xi & abs_mask) > exp_mask, nan_b = (yi & abs_mask) > exp_mask;
      // Both NaN, or the same infinity, is the same value on both sides; anything else differs.
      const i8 same = ~fa & ~fb & ((nan_a & nan_b) | (xi == yi));
      c_ok += ok;
      c_fa += fa;
      c_fb += fb;
      c_mis += ~ok & ~same;
      c_val += ok & (x == y);  // -0 == +0
      c_bit += ok & bits_on & (xi == yi);
      if constexpr (!Screen) {
        min_a = (ok & (x < min_a)) ? x : min_a;
        max_a = (ok & (x > max_a)) ? x : max_a;
        min_b = (ok & (y < min_b)) ? y : min_b;
        max_b = (ok & (y > max_b)) ? y : max_b;
      }
    } else {
      nonfinite |= ((xi & exp_mask) == exp_mask) | ((yi & exp_mask) == exp_mask);
      c_val += x == y;
      c_bit += bits_on & (xi == yi);
      if constexpr (!Screen) {
        min_a = x < min_a ? x : min_a;
        max_a = x > max_a ? x : max_a;
        min_b = y < min_b ? y : min_b;
        max_b = y > max_b ? y : max_b;
      }
    }
  }
  if constexpr (!Masked) {
    std::int32_t any = 0;
    for (std::size_t i = 0; i < kLanes; ++i) any |= nonfinite[i];
    if (any != 0) return false;
  }
  fold_extremes(min_a, max_a, min_b, max_b, r);
  if constexpr (Masked) {
    r.n_ok = static_cast<std::int64_t>(-hsum(c_ok));
    r.fin_a = static_cast<std::int64_t>(-hsum(c_fa));
    r.fin_b = static_cast<std::int64_t>(-hsum(c_fb));
    r.mismatch = static_cast<std::int64_t>(-hsum(c_mis));
  } else {
    r.n_ok = r.fin_a = r.fin_b = static_cast<std::int64_t>(steps * kLanes);
    r.mismatch = 0;
  }
  r.val_eq = static_cast<std::int64_t>(-hsum(c_val));
  r.bit_eq = static_cast<std::int64_t>(-hsum(c_bit));
  return true;
}

/// The extremes of every lane of a step's floats (lane i of a step is element 8v + i).
struct LaneExtremes {
  float min_a[8], max_a[8], min_b[8], max_b[8];
};

/// The extremes of W float lanes (F) of both sides as a loop selects them step by step:
/// counts_and_extremes<false, false>'s selects, lane by lane.
template <typename F>
struct StepExtremes {
  F min_a = splat<F>(INFINITY), max_a = splat<F>(-INFINITY), min_b = splat<F>(INFINITY), max_b = splat<F>(-INFINITY);

  [[gnu::always_inline]] void add(F x, F y) {
    min_a = x < min_a ? x : min_a;
    max_a = x > max_a ? x : max_a;
    min_b = y < min_b ? y : min_b;
    max_b = y > max_b ? y : max_b;
  }

  /// Into lanes first .. first + W - 1 of `e`.
  [[gnu::always_inline]] void store(std::size_t first, LaneExtremes& e) const {
    for (std::size_t j = 0; j < sizeof(F) / sizeof(float); ++j) {
      e.min_a[first + j] = min_a[j], e.max_a[first + j] = max_a[j];
      e.min_b[first + j] = min_b[j], e.max_b[first + j] = max_b[j];
    }
  }
};

/// The counts of a loop over a block of pairs, taken beside its sums, in eight lanes: minus
/// the pairs of equal values and of equal bits (masks are -1). Valid only where every value is
/// finite.
struct LaneCounts {
  i8 c_val{}, c_bit{};
};

/// Whether every lane of a float sum is finite, from its exponent bits (which no compiler option
/// can assume away).
[[gnu::always_inline]] inline bool lanes_finite(const float (&v)[8]) {
  bool finite = true;
  for (std::size_t i = 0; i < kLanes; ++i)
    finite = finite && (std::bit_cast<std::uint32_t>(v[i]) & 0x7f800000u) != 0x7f800000u;
  return finite;
}

/// What a loop over a block assumed finite takes step by step: the counts of equal values and of
/// equal bits (where bits_on), the extremes without Screen, and the float sums, as
/// counts_and_extremes<false, Screen> and masked_float_lane_sums take them without masks.
template <bool Screen>
struct FiniteStep {
  FloatStepSums<Screen> sums;
  StepExtremes<f8> extremes;
  i8 c_val{}, c_bit{};

  [[gnu::always_inline]] void add(f8 x, f8 y, i8 bits_on, const FloatShifts& k) {
    c_val += x == y;  // -0 == +0
    c_bit += bits_on & (__builtin_bit_cast(i8, x) == __builtin_bit_cast(i8, y));
    if constexpr (!Screen) extremes.add(x, y);
    const f8 d = x - y;
    sums.add(x - k.ka, y - k.kb, d, d - k.kd);
  }

  [[gnu::always_inline]] void store(FloatLaneSums& r, LaneExtremes& e, LaneCounts& c) const {
    sums.store(r);
    if constexpr (!Screen) extremes.store(0, e);
    c.c_val = c_val, c.c_bit = c_bit;
  }
};

/// A block's counts of equal values and bits, its extremes (without Screen) and its float lane
/// sums in one loop, as if every element were finite (the usual case, where the masks of
/// counts_and_extremes<true> and masked_float_lane_sums would select every lane): the operations of
/// counts_and_extremes<false, Screen> and masked_float_lane_sums without the masks, the same bits. A NaN or
/// an infinity leaves its side's float sum of squares not finite (the square of either is not
/// finite, and adding it to sums of squares keeps them so), which the caller checks; the block is
/// read once instead of twice (docs/benchmarks.md, "twenty-first session").
template <bool Screen>
[[gnu::always_inline]] inline void finite_float_sums(const float* a, const float* b, std::size_t nvec, bool float_bits,
                                                     const FloatShifts& k, FloatLaneSums& r, LaneExtremes& e,
                                                     LaneCounts& c) {
  const i8 bits_on = float_bits ? splat<i8>(-1) : splat<i8>(0);
  FiniteStep<Screen> step;
  for (std::size_t v = 0; v < nvec; ++v) {
    f8 x, y;
    std::memcpy(&x, a + v * kLanes, sizeof x);
    std::memcpy(&y, b + v * kLanes, sizeof y);
    step.add(x, y, bits_on, k);
  }
  step.store(r, e, c);
}

/// The counts of a block every element of which is finite, `nvec` steps of eight, into `r`.
[[gnu::always_inline]] inline void set_finite_counts(std::size_t nvec, const LaneCounts& c, Pass1& r) {
  r.n_ok = r.fin_a = r.fin_b = static_cast<std::int64_t>(nvec * kLanes);
  r.mismatch = 0;
  r.val_eq = static_cast<std::int64_t>(-hsum(c.c_val));
  r.bit_eq = static_cast<std::int64_t>(-hsum(c.c_bit));
}

/// pass1: the float lanes' sums, or where float_sums_into refuses them the double sums of `Wide`
/// (one loop of eight lanes) or of two loops of four, each float made a double by `Widen`; with
/// Screen, a screening pass's (PassStatistics::screen).
template <bool Wide, bool Screen, typename Widen>
[[gnu::always_inline]] inline void pass1_body(const float* a, const float* b, std::size_t nvec, const Padded* tail,
                                              bool float_bits, double ka, double kb, Pass1& r) {
  // A block without the padded tail is first counted and summed in one loop as if finite (the
  // usual case). Where a side's float squares are not finite, counts_and_extremes tells a value
  // that is not (the block is then counted and summed with masks) from squares beyond float's
  // range; a padded tail goes there directly. Every sum sees the same operations in the same order
  // as one loop of eight lanes either way.
  FloatLaneSums f;
  const FloatShifts k(ka, kb);
  bool all_ok = false;
  if (!tail) {
    LaneExtremes e;
    LaneCounts c;
    finite_float_sums<Screen>(a, b, nvec, float_bits, k, f, e, c);
    if (lanes_finite(f.s_aa) && lanes_finite(f.s_bb)) {
      set_finite_counts(nvec, c, r);
      if constexpr (!Screen) fold_extremes(e.min_a, e.max_a, e.min_b, e.max_b, r);
      if (float_sums_into<Screen>(f, k, r)) return;
      all_ok = true;
    }
  }
  if (!all_ok) {
    all_ok = !tail && counts_and_extremes<false, Screen>(a, b, nvec, tail, float_bits, r);
    if (!all_ok) {
      counts_and_extremes<true, Screen>(a, b, nvec, tail, float_bits, r);
      masked_float_lane_sums<Screen>(a, b, nvec, tail, k, f);
      if (float_sums_into<Screen>(f, k, r)) return;
    }
  }
  // The float sums could not be trusted: the block again in double lanes.
  LaneSums s;
#if LINEAGE_KERNEL_WIDE
  if constexpr (Wide) {
    if (all_ok) {
      lane_sums<false, Screen, Widen, f8, i8, d8, l8>(a, b, nvec, tail, 0, ka, kb, s);
    } else {
      lane_sums<true, Screen, Widen, f8, i8, d8, l8>(a, b, nvec, tail, 0, ka, kb, s);
    }
  } else
#endif
  {
    for (std::size_t first = 0; first < kLanes; first += 4) {
      if (all_ok) {
        lane_sums<false, Screen, Widen, f4, i4, d4, l4>(a, b, nvec, tail, first, ka, kb, s);
      } else {
        lane_sums<true, Screen, Widen, f4, i4, d4, l4>(a, b, nvec, tail, first, ka, kb, s);
      }
    }
  }
  r.s_aa = lane_sum(s.s_aa), r.s_bb = lane_sum(s.s_bb), r.s_ab = lane_sum(s.s_ab);
  r.s_dd = lane_sum(s.s_dd), r.s_a = lane_sum(s.s_a), r.s_b = lane_sum(s.s_b);
  if constexpr (!Screen) {
    r.s_ad = lane_sum(s.s_ad);
    for (std::size_t i = 0; i < kLanes; ++i) r.max_d = std::max(r.max_d, s.max_d[i]);
  }
}

using Pass1Function = void (*)(const float*, const float*, std::size_t, const Padded*, bool, double, double, Pass1&);

void pass1_portable(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                    double kb, Pass1& r) {
  pass1_body<false, false, WidenByConversion>(a, b, nvec, tail, float_bits, ka, kb, r);
}

void screen_portable(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                     double kb, Pass1& r) {
  pass1_body<false, true, WidenByConversion>(a, b, nvec, tail, float_bits, ka, kb, r);
}

using StoredBf16Function = void (*)(const std::byte*, const std::byte*, std::size_t, const Padded*, double, double,
                                    Pass1&);

#if LINEAGE_KERNEL_WIDE
/// One step's eight stored BF16 halves as floats, exactly (each half above sixteen zero bits).
[[gnu::always_inline, gnu::target("arch=x86-64-v3")]] inline f8 stored_bf16_floats(const std::byte* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return __builtin_bit_cast(f8, _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/// Lanes First .. First + W - 1 of one step's eight stored BF16 halves as floats (F: four lanes on
/// AVX2, eight on AVX-512), exactly: BF16 is the upper half of a float32, so each half is put
/// above sixteen zero bits (one unpack for four lanes; a zero-extension and a shift for eight).
template <std::size_t First, typename F>
[[gnu::always_inline, gnu::target("arch=x86-64-v3")]] inline F stored_bf16_lanes(const std::byte* p) {
  if constexpr (sizeof(F) == 4 * sizeof(float)) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i bits =
        First == 0 ? _mm_unpacklo_epi16(_mm_setzero_si128(), h) : _mm_unpackhi_epi16(_mm_setzero_si128(), h);
    return __builtin_bit_cast(F, bits);
  } else {
    static_assert(First == 0 && sizeof(F) == kLanes * sizeof(float));
    return stored_bf16_floats(p);
  }
}

/// The same for four lanes, both sides in one vector of eight (a's lanes, then b's): two selects
/// a step and two registers, where four would not fit beside the eight double sums in AVX2's
/// sixteen (four were spilled, and the block took 19% longer than with the extremes in a loop of
/// their own; this way 6% less).
template <>
struct StepExtremes<f4> {
  f8 lo = splat<f8>(INFINITY), hi = splat<f8>(-INFINITY);

  [[gnu::always_inline]] void add(f4 x, f4 y) {
    const f8 xy = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7);
    lo = xy < lo ? xy : lo;
    hi = xy > hi ? xy : hi;
  }

  [[gnu::always_inline]] void store(std::size_t first, LaneExtremes& e) const {
    for (std::size_t j = 0; j < 4; ++j) {
      e.min_a[first + j] = lo[j], e.max_a[first + j] = hi[j];
      e.min_b[first + j] = lo[4 + j], e.max_b[first + j] = hi[4 + j];
    }
  }
};

/// The double sums and, without Screen, the extremes of lanes First .. First + W - 1 of a block
/// of BF16 pairs as stored, finite on both sides (F the W float lanes, D and L the same lanes as
/// doubles and 64-bit integers): lane_sums<false, Screen> of the same values, the same
/// operations, and counts_and_extremes<false, false>'s selects lane by lane, so every lane's
/// extremes are its own, in step order. Each step's stored halves are made floats in registers
/// instead of decoded into a block that the pass reads back; the extremes' selects ride in the
/// loop the sums' additions bound (docs/benchmarks.md), rather than in a loop of their own.
template <std::size_t First, bool Screen, typename F, typename D, typename L>
[[gnu::always_inline, gnu::target("arch=x86-64-v3")]] inline void stored_bf16_lane_sums(
    const std::byte* a, const std::byte* b, std::size_t nvec, double ka, double kb, LaneSums& r, LaneExtremes& e) {
  const D vka = splat<D>(ka), vkb = splat<D>(kb);
  StepSums<Screen, D, L> sums;
  StepExtremes<F> extremes;
  for (std::size_t v = 0; v < nvec; ++v) {
    const F x = stored_bf16_lanes<First, F>(a + 2 * kLanes * v);
    const F y = stored_bf16_lanes<First, F>(b + 2 * kLanes * v);
    if constexpr (!Screen) extremes.add(x, y);
    const D xd = WidenByInstruction::to<D>(x), yd = WidenByInstruction::to<D>(y);
    sums.add(xd - vka, yd - vkb, xd - yd);
  }
  sums.store(First, r);
  if constexpr (!Screen) extremes.store(First, e);
}

/// `offset` bytes past `p`, as an address for a prefetch (which may point past the object).
[[gnu::always_inline]] inline const void* byte_address(const std::byte* p, std::size_t offset) {
  return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + offset);
}

/// finite_float_sums<Screen> of a block of BF16 pairs as stored, with float_bits (its counts of
/// equal values and bits, its extremes without Screen, its float sums, the same operations): each
/// step's stored halves made floats in registers instead of decoded into a block first. Like
/// finite_float_sums it assumes every value finite, which the caller checks (pass_stored_bf16).
/// Each step also asks for the same place of the next block (where a unit goes on, as it mostly
/// does: past its end a prefetch cannot fault, and the address is computed as an integer, never
/// as a pointer beyond the object), so that the next block finds its bytes in L2 while this loop's
/// arithmetic hides their arrival (prefetching took 9-12% off a run's time; all at once before the
/// block instead, it slowed the run; docs/benchmarks.md, "twentieth session").
template <bool Screen>
[[gnu::always_inline, gnu::target("arch=x86-64-v3")]] inline void stored_bf16_float_sums(
    const std::byte* a, const std::byte* b, std::size_t nvec, const FloatShifts& k, FloatLaneSums& r, LaneExtremes& e,
    LaneCounts& c) {
  const i8 bits_on = splat<i8>(-1);
  FiniteStep<Screen> step;
  for (std::size_t v = 0; v < nvec; ++v) {
    __builtin_prefetch(byte_address(a, 2 * kLanes * (nvec + v)), 0, 2);
    __builtin_prefetch(byte_address(b, 2 * kLanes * (nvec + v)), 0, 2);
    step.add(stored_bf16_floats(a + 2 * kLanes * v), stored_bf16_floats(b + 2 * kLanes * v), bits_on, k);
  }
  step.store(r, e, c);
}

/// A block of BF16 pairs all finite on both sides, counted: the equal values and equal bits of
/// its `nvec` steps (on the stored halves: all finite, equal bits or both zeros is equal
/// values), or false, with `r` untouched, where a value is NaN or infinite.
[[gnu::always_inline]] inline bool bf16_finite_counts(const std::byte* a, const std::byte* b, std::size_t nvec,
                                                      Pass1& r) {
  using u16x16 = std::uint16_t __attribute__((vector_size(32)));
  using i16x16 = std::int16_t __attribute__((vector_size(32)));
  const u16x16 exp_mask = splat<u16x16>(0x7f80), abs_mask = splat<u16x16>(0x7fff);
  i16x16 nonfinite{}, c_val{}, c_bit{};  // minus the counts, 16-bit lanes: at most 4096 / 16 each
  std::size_t v = 0;
  for (; v + 2 <= nvec; v += 2) {
    u16x16 ha, hb;
    std::memcpy(&ha, a + 16 * v, sizeof ha);
    std::memcpy(&hb, b + 16 * v, sizeof hb);
    nonfinite |= ((ha & exp_mask) == exp_mask) | ((hb & exp_mask) == exp_mask);
    const i16x16 bits = ha == hb;
    c_bit += bits;
    c_val += bits | (((ha | hb) & abs_mask) == 0);
  }
  std::int64_t any = 0, val = 0, bit = 0;
  for (int i = 0; i < 16; ++i) any |= nonfinite[i], val -= c_val[i], bit -= c_bit[i];
  for (; v < nvec; ++v) {  // an odd last step
    for (std::size_t i = 0; i < kLanes; ++i) {
      std::uint16_t x, y;
      std::memcpy(&x, a + 16 * v + 2 * i, 2);
      std::memcpy(&y, b + 16 * v + 2 * i, 2);
      any |= ((x & 0x7f80) == 0x7f80) || ((y & 0x7f80) == 0x7f80) ? 1 : 0;
      bit += x == y ? 1 : 0;
      val += x == y || ((x | y) & 0x7fff) == 0 ? 1 : 0;
    }
  }
  if (any != 0) return false;
  r.n_ok = r.fin_a = r.fin_b = static_cast<std::int64_t>(nvec * kLanes);
  r.mismatch = 0;
  r.val_eq = val;
  r.bit_eq = bit;
  return true;
}

/// A block of BF16 pairs with a NaN or an infinity, or the padded tail: decoded and passed as any
/// other block (masked). Rare, so what the decoding costs does not matter.
[[gnu::noinline]] inline void decoded_pass(const std::byte* a, const std::byte* b, std::size_t nvec, const Padded* tail,
                                           double ka, double kb, Pass1& r, Pass1Function pass) {
  float da[kKernelBlock], db[kKernelBlock];
  for (std::size_t i = 0; i < nvec * kLanes; ++i) da[i] = io::bf16_at(a + 2 * i), db[i] = io::bf16_at(b + 2 * i);
  pass(da, db, nvec, tail, true, ka, kb, r);
}

/// The pass over BF16 elements as stored (two bytes each, `nvec` steps of eight, then the padded
/// tail's floats), a screening one with Screen: the same counts, extremes and sums as `pass` on
/// the decoded floats, the same bits (unit_kernel_test). A block is counted and summed in float
/// lanes in one loop without the masks, as if finite (the usual case, where the masks would select
/// every lane). Where a side's float squares are not finite, bf16_finite_counts tells a value that
/// is not (the block is then decoded and passed with masks) from squares beyond float's range;
/// where float_sums_into refuses the sums of a finite block, it is summed in double lanes W at a
/// time (W the lanes of D, L its 64-bit integer vector).
template <bool Screen, typename D, typename L>
[[gnu::always_inline, gnu::target("arch=x86-64-v3")]] inline void pass_stored_bf16(const std::byte* a,
                                                                                   const std::byte* b, std::size_t nvec,
                                                                                   const Padded* tail, double ka,
                                                                                   double kb, Pass1& r,
                                                                                   Pass1Function pass) {
  if (tail) {
    decoded_pass(a, b, nvec, tail, ka, kb, r, pass);
    return;
  }
  FloatLaneSums f;
  LaneExtremes e;
  LaneCounts c;
  const FloatShifts k(ka, kb);
  stored_bf16_float_sums<Screen>(a, b, nvec, k, f, e, c);
  if (lanes_finite(f.s_aa) && lanes_finite(f.s_bb)) {
    // Every value finite (stored_bf16_float_sums), so the loop's counts stand.
    set_finite_counts(nvec, c, r);
    if (float_sums_into<Screen>(f, k, r)) {
      if constexpr (!Screen) fold_extremes(e.min_a, e.max_a, e.min_b, e.max_b, r);
      return;
    }
  } else if (!bf16_finite_counts(a, b, nvec, r)) {
    decoded_pass(a, b, nvec, tail, ka, kb, r, pass);
    return;
  }
  // Finite, but the float sums could not be trusted: the block again in double lanes.
  LaneSums s;
  if constexpr (sizeof(D) == kLanes * sizeof(double)) {
    stored_bf16_lane_sums<0, Screen, f8, D, L>(a, b, nvec, ka, kb, s, e);
  } else {
    stored_bf16_lane_sums<0, Screen, f4, D, L>(a, b, nvec, ka, kb, s, e);
    stored_bf16_lane_sums<4, Screen, f4, D, L>(a, b, nvec, ka, kb, s, e);
  }
  if constexpr (!Screen) fold_extremes(e.min_a, e.max_a, e.min_b, e.max_b, r);
  r.s_aa = lane_sum(s.s_aa), r.s_bb = lane_sum(s.s_bb), r.s_ab = lane_sum(s.s_ab);
  r.s_dd = lane_sum(s.s_dd), r.s_a = lane_sum(s.s_a), r.s_b = lane_sum(s.s_b);
  if constexpr (!Screen) {
    r.s_ad = lane_sum(s.s_ad);
    for (std::size_t i = 0; i < kLanes; ++i) r.max_d = std::max(r.max_d, s.max_d[i]);
  }
}

LINEAGE_KERNEL_NARROW_TARGET
void pass1_narrow(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                  double kb, Pass1& r) {
  pass1_body<false, false, WidenByInstruction>(a, b, nvec, tail, float_bits, ka, kb, r);
}

LINEAGE_KERNEL_NARROW_TARGET
void screen_narrow(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                   double kb, Pass1& r) {
  pass1_body<false, true, WidenByInstruction>(a, b, nvec, tail, float_bits, ka, kb, r);
}

LINEAGE_KERNEL_WIDE_TARGET
void pass1_wide(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                double kb, Pass1& r) {
  pass1_body<true, false, WidenByInstruction>(a, b, nvec, tail, float_bits, ka, kb, r);
}

LINEAGE_KERNEL_WIDE_TARGET
void screen_wide(const float* a, const float* b, std::size_t nvec, const Padded* tail, bool float_bits, double ka,
                 double kb, Pass1& r) {
  pass1_body<true, true, WidenByInstruction>(a, b, nvec, tail, float_bits, ka, kb, r);
}

/// pass1_narrow and screen_narrow over stored BF16: lanes 0-3, then 4-7, as they sum them.
LINEAGE_KERNEL_NARROW_TARGET
void pass1_bf16_narrow(const std::byte* a, const std::byte* b, std::size_t nvec, const Padded* tail, double ka,
                       double kb, Pass1& r) {
  pass_stored_bf16<false, d4, l4>(a, b, nvec, tail, ka, kb, r, pass1_narrow);
}

LINEAGE_KERNEL_NARROW_TARGET
void screen_bf16_narrow(const std::byte* a, const std::byte* b, std::size_t nvec, const Padded* tail, double ka,
                        double kb, Pass1& r) {
  pass_stored_bf16<true, d4, l4>(a, b, nvec, tail, ka, kb, r, screen_narrow);
}

/// pass1_wide and screen_wide over stored BF16: the eight lanes in one loop, as they sum them.
LINEAGE_KERNEL_WIDE_TARGET
void pass1_bf16_wide(const std::byte* a, const std::byte* b, std::size_t nvec, const Padded* tail, double ka, double kb,
                     Pass1& r) {
  pass_stored_bf16<false, d8, l8>(a, b, nvec, tail, ka, kb, r, pass1_wide);
}

LINEAGE_KERNEL_WIDE_TARGET
void screen_bf16_wide(const std::byte* a, const std::byte* b, std::size_t nvec, const Padded* tail, double ka,
                      double kb, Pass1& r) {
  pass_stored_bf16<true, d8, l8>(a, b, nvec, tail, ka, kb, r, screen_wide);
}
#endif

/// Whether the machine runs `width`'s code (portable always).
bool available(KernelWidth width) noexcept {
#if LINEAGE_KERNEL_WIDE
  switch (width) {
    case KernelWidth::portable:
      return true;
    case KernelWidth::narrow:
      return __builtin_cpu_supports("x86-64-v3") != 0;
    case KernelWidth::wide:
      return __builtin_cpu_supports("x86-64-v4") != 0;
  }
  return false;
#else
  return width == KernelWidth::portable;
#endif
}

/// `width` where the machine has it, else the widest narrower one it has.
KernelWidth usable(KernelWidth width) noexcept {
  if (width == KernelWidth::wide && !available(width)) width = KernelWidth::narrow;
  if (width == KernelWidth::narrow && !available(width)) width = KernelWidth::portable;
  return width;
}

Pass1Function pass1_of(KernelWidth width, PassStatistics statistics) noexcept {
  const bool screen = statistics == PassStatistics::screen;
#if LINEAGE_KERNEL_WIDE
  switch (usable(width)) {
    case KernelWidth::wide:
      return screen ? screen_wide : pass1_wide;
    case KernelWidth::narrow:
      return screen ? screen_narrow : pass1_narrow;
    case KernelWidth::portable:
      break;
  }
#endif
  (void)width;
  return screen ? screen_portable : pass1_portable;
}

/// The pass over stored BF16 of `width`, or null where it has none (portable).
StoredBf16Function stored_bf16_of(KernelWidth width, PassStatistics statistics) noexcept {
  const bool screen = statistics == PassStatistics::screen;
#if LINEAGE_KERNEL_WIDE
  switch (usable(width)) {
    case KernelWidth::wide:
      return screen ? screen_bf16_wide : pass1_bf16_wide;
    case KernelWidth::narrow:
      return screen ? screen_bf16_narrow : pass1_bf16_narrow;
    case KernelWidth::portable:
      break;
  }
#endif
  (void)width, (void)screen;
  return nullptr;
}

/// The width every block's pass takes: the widest the machine has, unless a test or a benchmark
/// chose (use_kernel_width). Atomic so that a choice made while other threads compute is not a race.
std::atomic<KernelWidth>& width_in_use() noexcept {
  static std::atomic<KernelWidth> in_use{usable(KernelWidth::wide)};
  return in_use;
}

std::size_t bucket(float v) { return std::bit_cast<std::uint32_t>(v) >> 16; }

}  // namespace

UnitSums::UnitSums(std::uint64_t n_total, PassStatistics statistics_computed)
    : min_a(std::numeric_limits<double>::infinity()),
      max_a(-std::numeric_limits<double>::infinity()),
      min_b(std::numeric_limits<double>::infinity()),
      max_b(-std::numeric_limits<double>::infinity()),
      hist_stride(std::bit_floor(std::max<std::uint64_t>(1, n_total >> 17))),
      statistics(statistics_computed) {
  if (statistics == PassStatistics::full) {
    h_a.assign(kKernelBuckets, 0);
    h_b.assign(kKernelBuckets, 0);
    h_d.assign(kKernelBuckets, 0);
  }
}

namespace {

/// A block's pass added to `s`: its counts, its differences' sums and extremes, and its moments
/// (raw sums from the shifted ones, the sums around 1, the Chan merge), whichever kernel made it.
void add_pass(UnitSums& s, const Pass1& p, std::size_t len, double ka, double kb) {
  const auto count = static_cast<std::uint64_t>(len), ok = static_cast<std::uint64_t>(p.n_ok);
  s.n_ok += ok;
  s.n_bad += count - ok;  // counted, excluded from every moment (never silently propagated)
  s.bad_a += count - static_cast<std::uint64_t>(p.fin_a);
  s.bad_b += count - static_cast<std::uint64_t>(p.fin_b);
  s.bad_mismatch += static_cast<std::uint64_t>(p.mismatch);
  s.val_eq += static_cast<std::uint64_t>(p.val_eq);
  s.bit_eq += static_cast<std::uint64_t>(p.bit_eq);
  s.s_ad += p.s_ad, s.s_dd += p.s_dd;
  s.max_d = std::max(s.max_d, p.max_d);
  s.min_a = std::min(s.min_a, static_cast<double>(p.min_a)), s.max_a = std::max(s.max_a, static_cast<double>(p.max_a));
  s.min_b = std::min(s.min_b, static_cast<double>(p.min_b)), s.max_b = std::max(s.max_b, static_cast<double>(p.max_b));
  if (ok == 0) return;

  const double nb = static_cast<double>(ok);
  // Raw sums from the shifted ones; written alike for a and b so that identical sides give
  // identical sums (cosine exactly 1).
  s.s_aa += p.s_aa + ka * p.s_a + ka * p.s_a + nb * ka * ka;
  s.s_bb += p.s_bb + kb * p.s_b + kb * p.s_b + nb * kb * kb;
  s.s_ab += p.s_ab + kb * p.s_a + ka * p.s_b + nb * ka * kb;
  // The block's means and centred sums.
  const double da = p.s_a / nb, db = p.s_b / nb;
  const double ma = ka + da, mb = kb + db;
  const double qa = p.s_aa - p.s_a * da, qb = p.s_bb - p.s_b * db, qab = p.s_ab - p.s_a * db;
  // Sums around 1 (init_centered_cosine) from the block's centred moments: exact identities,
  // with no cancellation for weights near 1 (norms).
  s.s_a1 += qa + nb * (ma - 1) * (ma - 1);
  s.s_b1 += qb + nb * (mb - 1) * (mb - 1);
  s.s_a1b1 += qab + nb * (ma - 1) * (mb - 1);
  // Chan et al. pairwise update (METHODS §2.3): no Σx² − (Σx)²/n cancellation.
  const double total = s.n + nb, dA = ma - s.mean_a, dB = mb - s.mean_b;
  s.m2_a += qa + dA * dA * s.n * nb / total;
  s.m2_b += qb + dB * dB * s.n * nb / total;
  s.c_ab += qab + dA * dB * s.n * nb / total;
  s.mean_a += dA * nb / total;
  s.mean_b += dB * nb / total;
  s.n = total;
}

/// The shifts of a block's sums (METHODS §2.3): the running means once there are any, else the
/// means of the block's finite pairs (value_a(i) and value_b(i) its element i, `len` of them); as
/// floats, which the float lanes subtract (add_pass adds back what they took). Sums of squares
/// around a value near the mean lose nothing to cancellation, so one pass gives both the raw and
/// the centred sums; and the float lanes' sums of the shifted values stay small, so they round
/// little (a first block shifted by one element instead erred about 1e-7 relative in its mean).
template <typename ValueA, typename ValueB>
std::pair<double, double> shifts(double mean_a, double mean_b, double n, std::size_t len, ValueA value_a,
                                 ValueB value_b) {
  if (n == 0) {
    double sum_a = 0, sum_b = 0, count = 0;
    for (std::size_t i = 0; i < len; ++i) {
      const double x = value_a(i), y = value_b(i);
      if (std::isfinite(x) && std::isfinite(y)) sum_a += x, sum_b += y, count += 1;
    }
    if (count > 0) mean_a = sum_a / count, mean_b = sum_b / count;
  }
  return {static_cast<float>(mean_a), static_cast<float>(mean_b)};
}

/// The histograms of `s` over the sample of logical indices [start, start + len) that are
/// multiples of its hist_stride; value_a(i) and value_b(i) give element start + i of each side.
template <typename ValueA, typename ValueB>
void add_histograms(UnitSums& s, std::uint64_t start, std::size_t len, ValueA value_a, ValueB value_b) {
  // Through locals: a count's store (a uint64_t) could alias hist_stride and n_hist, which the
  // loop would otherwise load and store again after every increment.
  const std::uint64_t stride = s.hist_stride;
  std::uint64_t* const count_a = s.h_a.data();
  std::uint64_t* const count_b = s.h_b.data();
  std::uint64_t* const count_d = s.h_d.data();
  std::uint64_t sampled = 0;
  for (std::uint64_t i = (stride - start % stride) % stride; i < len; i += stride) {
    const float x = value_a(i), y = value_b(i);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    ++sampled;
    ++count_a[bucket(std::fabs(x))];
    ++count_b[bucket(std::fabs(y))];
    ++count_d[bucket(static_cast<float>(std::fabs(static_cast<double>(x) - static_cast<double>(y))))];
  }
  s.n_hist += sampled;
}

}  // namespace

void UnitSums::add_block(std::uint64_t start, const float* a, const float* b, std::size_t len, BitEquality mode,
                         const std::uint64_t* bits_a, const std::uint64_t* bits_b) {
  const std::size_t nvec = len / kLanes, rem = len % kLanes;
  const Padded tail_storage(a + nvec * kLanes, b + nvec * kLanes, rem);
  const Padded* tail = rem ? &tail_storage : nullptr;
  // The shift (shifts): the running means, or the first block's own.
  const auto [ka, kb] = shifts(
      mean_a, mean_b, n, len, [a](std::size_t i) { return a[i]; }, [b](std::size_t i) { return b[i]; });
  Pass1 p;
  pass1_of(width_in_use().load(std::memory_order_relaxed), statistics)(a, b, nvec, tail,
                                                                       mode == BitEquality::float_bits, ka, kb, p);
  if (mode == BitEquality::raw_bits) {
    for (std::size_t i = 0; i < len; ++i) {
      bit_eq += (std::isfinite(a[i]) && std::isfinite(b[i]) && bits_a[i] == bits_b[i]) ? 1 : 0;
    }
  }
  if (statistics == PassStatistics::full) {
    add_histograms(
        *this, start, len, [a](std::uint64_t i) { return a[i]; }, [b](std::uint64_t i) { return b[i]; });
  }
  add_pass(*this, p, len, ka, kb);
}

bool UnitSums::reads_stored_bf16() const noexcept {
  return stored_bf16_of(width_in_use().load(std::memory_order_relaxed), statistics) != nullptr;
}

bool UnitSums::add_bf16_block(std::uint64_t start, const std::byte* a, const std::byte* b, std::size_t len) {
  if (len > kKernelBlock) throw InternalError("UnitSums::add_bf16_block: more than one kernel block");
  const StoredBf16Function pass = stored_bf16_of(width_in_use().load(std::memory_order_relaxed), statistics);
  if (pass == nullptr) return false;
#if LINEAGE_KERNEL_WIDE
  const std::size_t nvec = len / kLanes, rem = len % kLanes;
  float tail_a[kLanes], tail_b[kLanes];
  for (std::size_t i = 0; i < rem; ++i) {
    tail_a[i] = io::bf16_at(a + 2 * (nvec * kLanes + i));
    tail_b[i] = io::bf16_at(b + 2 * (nvec * kLanes + i));
  }
  const Padded tail_storage(tail_a, tail_b, rem);
  // The shift, as add_block takes it.
  const auto [ka, kb] = shifts(
      mean_a, mean_b, n, len, [a](std::size_t i) { return io::bf16_at(a + 2 * i); },
      [b](std::size_t i) { return io::bf16_at(b + 2 * i); });
  Pass1 p;
  pass(a, b, nvec, rem ? &tail_storage : nullptr, ka, kb, p);
  if (statistics == PassStatistics::full) {
    add_histograms(
        *this, start, len, [a](std::uint64_t i) { return io::bf16_at(a + 2 * i); },
        [b](std::uint64_t i) { return io::bf16_at(b + 2 * i); });
  }
  add_pass(*this, p, len, ka, kb);
  return true;
#else
  (void)start, (void)a, (void)b;
  return false;
#endif
}

void UnitSums::merge(const UnitSums& next) {
  if (next.hist_stride != hist_stride) throw InternalError("UnitSums::merge: sums of different units");
  if (next.statistics != statistics || next.h_a.size() != h_a.size()) {
    throw InternalError("UnitSums::merge: a screening pass's sums with a full pass's");
  }
  n_ok += next.n_ok, n_bad += next.n_bad, bit_eq += next.bit_eq, val_eq += next.val_eq;
  bad_a += next.bad_a, bad_b += next.bad_b, bad_mismatch += next.bad_mismatch;
  s_aa += next.s_aa, s_bb += next.s_bb, s_ab += next.s_ab, s_ad += next.s_ad, s_dd += next.s_dd;
  s_a1 += next.s_a1, s_b1 += next.s_b1, s_a1b1 += next.s_a1b1;
  max_d = std::max(max_d, next.max_d);
  min_a = std::min(min_a, next.min_a), max_a = std::max(max_a, next.max_a);
  min_b = std::min(min_b, next.min_b), max_b = std::max(max_b, next.max_b);
  for (std::size_t i = 0; i < h_a.size(); ++i) {
    h_a[i] += next.h_a[i], h_b[i] += next.h_b[i], h_d[i] += next.h_d[i];
  }
  n_hist += next.n_hist;
  if (next.n == 0) return;
  if (n == 0) {  // exactly the next block's moments (the update below would round its mean)
    n = next.n, mean_a = next.mean_a, mean_b = next.mean_b, m2_a = next.m2_a, m2_b = next.m2_b, c_ab = next.c_ab;
    return;
  }
  // Chan et al. pairwise update, as add_block merges a kernel block (METHODS §2.3).
  const double total = n + next.n, dA = next.mean_a - mean_a, dB = next.mean_b - mean_b;
  m2_a += next.m2_a + dA * dA * n * next.n / total;
  m2_b += next.m2_b + dB * dB * n * next.n / total;
  c_ab += next.c_ab + dA * dB * n * next.n / total;
  mean_a += dA * next.n / total;
  mean_b += dB * next.n / total;
  n = total;
}

bool kernel_width_available(KernelWidth width) noexcept { return available(width); }

void use_kernel_width(KernelWidth width) noexcept { width_in_use().store(usable(width), std::memory_order_relaxed); }

KernelWidth kernel_width_in_use() noexcept { return width_in_use().load(std::memory_order_relaxed); }

}  // namespace lineage::stages
