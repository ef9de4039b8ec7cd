#include "core/dtype.hpp"

#include <array>
#include <utility>

namespace lineage {
namespace {

constexpr std::array<std::pair<Dtype, std::string_view>, 12> kNames{{
    {Dtype::F64, "F64"},
    {Dtype::F32, "F32"},
    {Dtype::F16, "F16"},
    {Dtype::BF16, "BF16"},
    {Dtype::F8_E4M3, "F8_E4M3"},
    {Dtype::F8_E5M2, "F8_E5M2"},
    {Dtype::I64, "I64"},
    {Dtype::I32, "I32"},
    {Dtype::I16, "I16"},
    {Dtype::I8, "I8"},
    {Dtype::U8, "U8"},
    {Dtype::BOOL, "BOOL"},
}};

constexpr std::array<std::pair<std::string_view, Dtype>, 12> kTorchNames{{
    {"float64", Dtype::F64},
    {"float32", Dtype::F32},
    {"float", Dtype::F32},
    {"float16", Dtype::F16},
    {"half", Dtype::F16},
    {"bfloat16", Dtype::BF16},
    {"float8_e4m3fn", Dtype::F8_E4M3},
    {"float8_e5m2", Dtype::F8_E5M2},
    {"int64", Dtype::I64},
    {"int32", Dtype::I32},
    {"int8", Dtype::I8},
    {"uint8", Dtype::U8},
}};

}  // namespace

std::string_view to_string(Dtype d) noexcept {
  for (const auto& [dt, name] : kNames) {
    if (dt == d) return name;
  }
  return "?";
}

std::optional<Dtype> parse_dtype(std::string_view s) noexcept {
  for (const auto& [dt, name] : kNames) {
    if (name == s) return dt;
  }
  return std::nullopt;
}

std::optional<Dtype> parse_torch_dtype(std::string_view s) noexcept {
  if (s.starts_with("torch.")) s.remove_prefix(6);
  for (const auto& [name, dt] : kTorchNames) {
    if (name == s) return dt;
  }
  return std::nullopt;
}

}  // namespace lineage
