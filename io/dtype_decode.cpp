#include "io/dtype_decode.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/errors.hpp"
#include "core/isa_clones.hpp"

namespace lineage::io {
namespace {

template <typename T>
T load(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Block decoders: eight elements at a time in GCC vector extensions (element-wise integer and
// exact float operations, so every ISA clone gives the same bits), compiled per ISA.
using u16x8 = std::uint16_t __attribute__((vector_size(16)));
using u16x16 = std::uint16_t __attribute__((vector_size(32)));
using u32x8 = std::uint32_t __attribute__((vector_size(32)));
using f32x8 = float __attribute__((vector_size(32)));

LINEAGE_ISA_CLONES
void decode_bf16(const std::byte* s, float* d, std::size_t n) noexcept {
  // Each half put above sixteen zero bits by interleaving (one unpack per four elements): GCC 12
  // lowers the generic zero-extension of eight halves and shift as two extensions, an insert and
  // a shift.
  const u16x8 zero{};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    u16x8 h;
    std::memcpy(&h, s + 2 * i, sizeof h);
    const u16x16 f = __builtin_shufflevector(zero, h, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    std::memcpy(d + i, &f, sizeof f);
  }
  for (; i < n; ++i) d[i] = bf16_to_float(load<std::uint16_t>(s + 2 * i));
}

/// IEEE half to float without branches: move exponent and mantissa into place, rebias, and
/// select the infinity/NaN and zero/subnormal cases (the subnormal one by an exact float
/// subtraction). Equal to f16_to_float on all 65,536 inputs (dtype_decode_test).
LINEAGE_ISA_CLONES
void decode_f16(const std::byte* s, float* d, std::size_t n) noexcept {
  u32x8 exp_field, special_rebias, sub_bias, zero;
  f32x8 sub_magic;
  for (int k = 0; k < 8; ++k) {
    exp_field[k] = 0x0F800000u;
    special_rebias[k] = (128u - 16u) << 23;
    sub_bias[k] = 1u << 23;
    sub_magic[k] = std::bit_cast<float>(113u << 23);
    zero[k] = 0;
  }
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    u16x8 h16;
    std::memcpy(&h16, s + 2 * i, sizeof h16);
    const u32x8 h = __builtin_convertvector(h16, u32x8);
    const u32x8 sign = (h & 0x8000u) << 16;
    u32x8 o = ((h & 0x7FFFu) << 13) + ((127u - 15u) << 23);
    const u32x8 exp = (h << 13) & exp_field;
    o = exp == exp_field ? o + special_rebias : o;  // infinity / NaN
    const f32x8 sub = __builtin_bit_cast(f32x8, o + sub_bias) - sub_magic;
    o = exp == zero ? __builtin_bit_cast(u32x8, sub) : o;  // zero / subnormal
    const u32x8 f = o | sign;
    std::memcpy(d + i, &f, sizeof f);
  }
  for (; i < n; ++i) d[i] = f16_to_float(load<std::uint16_t>(s + 2 * i));
}

using u8x16 = std::uint8_t __attribute__((vector_size(16)));
using i32x8 = std::int32_t __attribute__((vector_size(32)));

/// Eight F8_E4M3 bytes, each below 24 zero bits in `u`, decoded into `out`. A function always
/// inlined, not a lambda: a lambda's call operator keeps the default target, and an unoptimised
/// build would pass the vector between it and the clones in different registers.
[[gnu::always_inline]] inline void decode8_f8e4m3(u32x8 u, float* out) noexcept {
  const u32x8 sign = (u & 0x80u) << 24;
  const u32x8 em = u & 0x7Fu;
  const u32x8 normal = (em << 20) + (120u << 23);  // (e + 127 - 7) << 23, the mantissa below it
  const u32x8 sub = __builtin_bit_cast(u32x8, __builtin_convertvector(__builtin_bit_cast(i32x8, em), f32x8) * 0x1p-9f);
  u32x8 o = em < 8u ? sub : normal;   // exponent field 0: zero or subnormal, m * 2^-9
  o = em == 0x7Fu ? 0x7FC00000u : o;  // S.1111.111: NaN
  const u32x8 f = o | sign;
  std::memcpy(out, &f, sizeof f);
}

/// F8_E4M3 (fn) to float without branches or tables, sixteen bytes a load: exponent and mantissa moved
/// into place and rebiased (7 -> 127), subnormals as m * 2^-9 (an exact float product), S.1111.111
/// as NaN. Equal to f8e4m3_to_float on all 256 bytes (dtype_decode_test); the table of
/// the scalar decoder's values ran at 0.6 of its speed (docs/benchmarks.md, "FP8 and F32 units").
LINEAGE_ISA_CLONES
void decode_f8e4m3(const std::byte* s, float* d, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Sixteen bytes in one load, each put below 24 zero bits by a shuffle (GCC 12 scalarises the
    // generic conversion of eight bytes to eight 32-bit integers).
    u8x16 b;
    std::memcpy(&b, s + i, sizeof b);
    const u8x16 z{};
    decode8_f8e4m3(__builtin_bit_cast(
                       u32x8, __builtin_shufflevector(b, z, 0, 16, 16, 16, 1, 16, 16, 16, 2, 16, 16, 16, 3, 16, 16, 16,
                                                      4, 16, 16, 16, 5, 16, 16, 16, 6, 16, 16, 16, 7, 16, 16, 16)),
                   d + i);
    decode8_f8e4m3(__builtin_bit_cast(u32x8, __builtin_shufflevector(b, z, 8, 16, 16, 16, 9, 16, 16, 16, 10, 16, 16, 16,
                                                                     11, 16, 16, 16, 12, 16, 16, 16, 13, 16, 16, 16, 14,
                                                                     16, 16, 16, 15, 16, 16, 16)),
                   d + i + 8);
  }
  for (; i < n; ++i) d[i] = f8e4m3_to_float(load<std::uint8_t>(s + i));
}

}  // namespace

float f16_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  const std::uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (man << 13));  // inf / nan
  if (exp == 0) {
    // Zero or subnormal: man * 2^-24, exact in float.
    const float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

float f8e4m3_to_float(std::uint8_t b) noexcept {
  // Bits, not ldexp (a library call per element, which strided FP8 views decode with).
  const std::uint32_t sign = static_cast<std::uint32_t>(b & 0x80u) << 24;
  const std::uint32_t exp = (b >> 3) & 0xFu, man = b & 0x7u;
  if (exp == 0xF && man == 0x7) return std::bit_cast<float>(sign | 0x7FC00000u);  // NaN
  if (exp == 0) {  // subnormal: man/8 * 2^-6, exact in float
    return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(static_cast<float>(man) * 0x1p-9f));
  }
  return std::bit_cast<float>(sign | ((exp + 120u) << 23) | (man << 20));  // bias 7 -> 127
}

float f8e5m2_to_float(std::uint8_t b) noexcept {
  // E5M2 is the upper byte of an IEEE half.
  return f16_to_float(static_cast<std::uint16_t>(b) << 8);
}

std::uint16_t float_to_bf16(float value) noexcept {
  const auto u = std::bit_cast<std::uint32_t>(value);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // NaN
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

std::uint8_t float_to_f8e4m3(float value) noexcept {
  const auto sign = static_cast<std::uint8_t>((std::bit_cast<std::uint32_t>(value) >> 24) & 0x80u);
  if (std::isnan(value)) return static_cast<std::uint8_t>(sign | 0x7Fu);
  const float magnitude = std::fabs(value);
  if (!(magnitude < 448.0f)) return static_cast<std::uint8_t>(sign | 0x7Eu);
  // The positive finite values, codes 0 to 0x7E, ascend with their codes.
  static const std::array<float, 127> positive = [] {
    std::array<float, 127> v{};
    for (std::size_t c = 0; c < v.size(); ++c) v[c] = f8e4m3_to_float(static_cast<std::uint8_t>(c));
    return v;
  }();
  const auto above = static_cast<std::size_t>(std::upper_bound(positive.begin(), positive.end(), magnitude) -
                                              positive.begin());  // 1..126: positive[0] = 0 <= magnitude < 448
  const std::size_t below = above - 1;
  // The distances in double are exact: both ends and the value are floats of nearby magnitude.
  const double to_below = static_cast<double>(magnitude) - positive[below];
  const double to_above = static_cast<double>(positive[above]) - magnitude;
  const std::size_t code = to_below < to_above ? below : to_above < to_below ? above : (below % 2 == 0 ? below : above);
  return static_cast<std::uint8_t>(sign | code);
}

std::uint16_t float_to_f16(float value) noexcept {
  const auto u = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);   // NaN
  if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflow -> inf
  if (a < 0x38800000u) {
    // Subnormal or zero in half: value * 2^24 rounded to nearest even integer.
    const float f = std::bit_cast<float>(a) * 0x1p24f;
    const auto m = static_cast<std::uint32_t>(std::nearbyint(f));  // default mode: ties to even
    return static_cast<std::uint16_t>(sign | m);
  }
  const std::uint32_t exp = ((a >> 23) - 112u) << 10;
  const std::uint32_t man = a & 0x7FFFFFu;
  std::uint32_t h = exp | (man >> 13);
  const std::uint32_t rest = man & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into exponent correctly
  return static_cast<std::uint16_t>(sign | h);
}

double decode_element(Dtype dtype, const std::byte* p) noexcept {
  switch (dtype) {
    case Dtype::F64:
      return load<double>(p);
    case Dtype::F32:
      return load<float>(p);
    case Dtype::F16:
      return f16_to_float(load<std::uint16_t>(p));
    case Dtype::BF16:
      return bf16_to_float(load<std::uint16_t>(p));
    case Dtype::F8_E4M3:
      return f8e4m3_to_float(load<std::uint8_t>(p));
    case Dtype::F8_E5M2:
      return f8e5m2_to_float(load<std::uint8_t>(p));
    case Dtype::I64:
      return static_cast<double>(load<std::int64_t>(p));
    case Dtype::I32:
      return load<std::int32_t>(p);
    case Dtype::I16:
      return load<std::int16_t>(p);
    case Dtype::I8:
      return load<std::int8_t>(p);
    case Dtype::U8:
      return load<std::uint8_t>(p);
    case Dtype::BOOL:
      return load<std::uint8_t>(p) != 0 ? 1.0 : 0.0;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

namespace {

/// Every FP8 pattern of one format decoded by its element decoder, built once: a unit of F8_E5M2
/// is decoded by one table load per element instead of a decoder call each (the calls, with an
/// ldexp each for F8_E4M3, bounded the pass at 0.08 GB/s; bench/compare_bench.cpp). F8_E4M3, the
/// format DeepSeek-V3 and Kimi-K2 store their experts in, has a vector decoder (decode_f8e4m3).
struct Fp8Table {
  float value[256];
  explicit Fp8Table(float (*decode)(std::uint8_t) noexcept) {
    for (unsigned b = 0; b < 256; ++b) value[b] = decode(static_cast<std::uint8_t>(b));
  }
};

void decode_fp8(const Fp8Table& table, const std::byte* s, float* d, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) d[i] = table.value[std::to_integer<std::uint8_t>(s[i])];
}

}  // namespace

void decode_to_float(Dtype dtype, std::span<const std::byte> src, std::span<float> dst) {
  const std::size_t n = dst.size();
  if (src.size() < n * dtype_size(dtype)) {
    throw InternalError("decode_to_float: source holds fewer bytes than requested elements");
  }
  const std::byte* s = src.data();
  float* d = dst.data();
  switch (dtype) {
    case Dtype::BF16:
      decode_bf16(s, d, n);
      return;
    case Dtype::F32:
      std::memcpy(d, s, n * 4);
      return;
    case Dtype::F16:
      decode_f16(s, d, n);
      return;
    case Dtype::F8_E4M3:
      decode_f8e4m3(s, d, n);
      return;
    case Dtype::F8_E5M2: {
      static const Fp8Table e5m2(f8e5m2_to_float);
      decode_fp8(e5m2, s, d, n);
      return;
    }
    default:
      for (std::size_t i = 0; i < n; ++i) {
        d[i] = static_cast<float>(decode_element(dtype, s + i * dtype_size(dtype)));
      }
      return;
  }
}

}  // namespace lineage::io
