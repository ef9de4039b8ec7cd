#pragma once
/// @file dtype.hpp
/// Stored element types of safetensors files. Decoding lives in io/dtype_decode.hpp.

#include <cstdint>
#include <optional>
#include <string_view>

namespace lineage {

enum class Dtype : std::uint8_t { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

/// Bytes per element.
[[nodiscard]] constexpr std::size_t dtype_size(Dtype d) noexcept {
  switch (d) {
    case Dtype::F64:
    case Dtype::I64:
      return 8;
    case Dtype::F32:
    case Dtype::I32:
      return 4;
    case Dtype::F16:
    case Dtype::BF16:
    case Dtype::I16:
      return 2;
    default:
      return 1;
  }
}

[[nodiscard]] constexpr bool dtype_is_float(Dtype d) noexcept {
  return d == Dtype::F64 || d == Dtype::F32 || d == Dtype::F16 || d == Dtype::BF16 || d == Dtype::F8_E4M3 ||
         d == Dtype::F8_E5M2;
}

/// Safetensors spelling: "BF16", "F8_E4M3", ...
[[nodiscard]] std::string_view to_string(Dtype d) noexcept;
[[nodiscard]] std::optional<Dtype> parse_dtype(std::string_view s) noexcept;
/// config.json spelling ("bfloat16", "float16", "float32", "float8_e4m3fn"...).
[[nodiscard]] std::optional<Dtype> parse_torch_dtype(std::string_view s) noexcept;

}  // namespace lineage
