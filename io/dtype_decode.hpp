#pragma once
/// @file dtype_decode.hpp
/// Exact decoding of stored element types to float/double, and rounding encoders for writers.
/// BF16, F16 and both FP8 formats are exactly representable in float, so decoding is exact.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/dtype.hpp"

namespace lineage::io {

[[nodiscard]] inline float bf16_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}
/// The BF16 element stored at `p` (two little-endian bytes, any alignment), exactly. Inline: the
/// pass over stored BF16 decodes single elements with it (its histogram sample, its padded tail,
/// SketchGather::take_bf16).
[[nodiscard]] inline float bf16_at(const std::byte* p) noexcept {
  std::uint16_t bits;
  std::memcpy(&bits, p, sizeof bits);
  return bf16_to_float(bits);
}
[[nodiscard]] float f16_to_float(std::uint16_t bits) noexcept;
/// F8_E4M3 in the "fn" convention (DeepSeek-V3, torch.float8_e4m3fn): no infinities,
/// S.1111.111 is NaN, max finite 448.
[[nodiscard]] float f8e4m3_to_float(std::uint8_t bits) noexcept;
[[nodiscard]] float f8e5m2_to_float(std::uint8_t bits) noexcept;

/// Round-to-nearest-even; NaN stays NaN (quiet), overflow rounds to infinity.
[[nodiscard]] std::uint16_t float_to_bf16(float value) noexcept;
[[nodiscard]] std::uint16_t float_to_f16(float value) noexcept;
/// The F8_E4M3 ("fn") code nearest to `value`, ties to the even code; magnitudes beyond the
/// largest finite value (448) saturate to it, as a block-FP8 quantiser's clamp does (the format
/// has no infinity); NaN is S.1111.111.
[[nodiscard]] std::uint8_t float_to_f8e4m3(float value) noexcept;

/// One element at `p` (unaligned, little-endian) as double. Integers and BOOL convert by value.
[[nodiscard]] double decode_element(Dtype dtype, const std::byte* p) noexcept;

/// One float element at `p` as float: decode_element's value, with BF16 decoded inline (readers
/// that gather single elements, a sampled neuron's column or a strided view's, call it once an
/// element: through decode_element it was 3% of a default run's CPU).
[[nodiscard]] inline float float_at(Dtype dtype, const std::byte* p) noexcept {
  return dtype == Dtype::BF16 ? bf16_at(p) : static_cast<float>(decode_element(dtype, p));
}

/// Decodes dst.size() elements from `src` (which must hold dst.size() * dtype_size bytes).
/// Float dtypes only for float output (integers are decoded by value too).
void decode_to_float(Dtype dtype, std::span<const std::byte> src, std::span<float> dst);

}  // namespace lineage::io
