#include "stages/execute/block_scales.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>

namespace lineage::stages {

void apply_block_scales(const BlockScales& scales, std::uint64_t first, std::uint64_t stride, float* out,
                        std::size_t count) noexcept {
  if (stride != 1) {
    for (std::size_t k = 0; k < count; ++k) out[k] *= scales.factor_of(first + k * stride);
    return;
  }
  // Consecutive elements share a factor up to the end of their block's columns (or of the row):
  // one factor per stretch, a loop the compiler vectorises.
  for (std::size_t k = 0; k < count;) {
    const std::uint64_t stored = first + k;
    const std::uint64_t c = stored % scales.tensor_cols;
    const std::uint64_t block_end = std::min(scales.tensor_cols, (c / scales.block_cols + 1) * scales.block_cols);
    const std::size_t stretch = static_cast<std::size_t>(std::min<std::uint64_t>(count - k, block_end - c));
    const float factor = scales.factor_of(stored);
    float* p = out + k;
    for (std::size_t i = 0; i < stretch; ++i) p[i] *= factor;
    k += stretch;
  }
}

std::uint64_t grid_rows_hash(const BlockScales& scales, std::uint64_t first, std::uint64_t end) noexcept {
  const std::uint64_t rows = scales.grid_cols == 0 ? 0 : scales.grid.size() / scales.grid_cols;
  end = std::min(end, rows);
  first = std::min(first, end);
  // The floats' bytes as the machine holds them: little-endian, as lineage reads safetensors' bytes as they are.
  return XXH3_64bits(scales.grid.data() + first * scales.grid_cols, (end - first) * scales.grid_cols * sizeof(float));
}

std::uint64_t fold_hashes(std::uint64_t codes, std::uint64_t factors) noexcept {
  std::array<unsigned char, 16> both{};
  for (std::size_t i = 0; i < 8; ++i) {
    both[i] = static_cast<unsigned char>(codes >> (8 * i));
    both[8 + i] = static_cast<unsigned char>(factors >> (8 * i));
  }
  return XXH3_64bits(both.data(), both.size());
}

}  // namespace lineage::stages
