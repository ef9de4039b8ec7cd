#include "tools/synth/synth_model.hpp"

#include "io/dtype_decode.hpp"

namespace lineage::tools {

void round_to_bf16(std::vector<float>& values) {
  for (float& v : values) {
    const std::uint16_t b = io::float_to_bf16(v);
    v = io::bf16_to_float(b);
  }
}

std::uint64_t element_count(const std::vector<std::uint64_t>& shape) noexcept {
  std::uint64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

}  // namespace lineage::tools
