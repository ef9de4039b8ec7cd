#include "stages/execute/block_scales.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/isa_clones.hpp"

namespace lineage::stages {

namespace {

// The products sixteen at a time in GCC vector extensions, compiled per ISA (as io/dtype_decode's
// block decoders): GCC 12 at -O2 left the plain loop scalar, one mulss per element, and a scaled
// unit's pass 40% slower than its codes' (docs/benchmarks.md). A float product is exact IEEE
// rounding on every ISA (no fused operation), so every clone gives the same bits.
using f32x16 = float __attribute__((vector_size(64)));

/// apply_block_scales of consecutive stored elements.
LINEAGE_ISA_CLONES
void scale_consecutive(const BlockScales& scales, std::uint64_t first, float* out, std::size_t count) noexcept {
  // Consecutive elements share a factor up to the end of their block's columns (or of the row):
  // one factor per stretch. The first element's row and column are divided out once and then
  // followed, with one grid row looked up per row.
  std::uint64_t r = first / scales.tensor_cols, c = first % scales.tensor_cols;
  for (std::size_t k = 0; k < count;) {
    const float* factors = scales.grid.data() + scales.grid_row(r) * scales.grid_cols;
    std::uint64_t block = c / scales.block_cols;
    const std::size_t row_end =
        k + static_cast<std::size_t>(std::min<std::uint64_t>(count - k, scales.tensor_cols - c));
    while (k < row_end) {
      const std::uint64_t block_end = std::min(scales.tensor_cols, (block + 1) * scales.block_cols);
      const std::size_t stretch = static_cast<std::size_t>(std::min<std::uint64_t>(row_end - k, block_end - c));
      const float factor = factors[block];
      // Every lane set to the factor itself (adding it to zeros would turn a -0 factor into +0, and
      // a zero's sign would then depend on where a reader's run starts).
      f32x16 factor16;
      for (int lane = 0; lane < 16; ++lane) factor16[lane] = factor;
      float* p = out + k;
      std::size_t i = 0;
      for (; i + 16 <= stretch; i += 16) {
        f32x16 v;
        std::memcpy(&v, p + i, sizeof v);
        v *= factor16;
        std::memcpy(p + i, &v, sizeof v);
      }
      for (; i < stretch; ++i) p[i] *= factor;
      k += stretch;
      c += stretch;
      ++block;
    }
    if (c == scales.tensor_cols) {
      c = 0;
      ++r;
    }
  }
}

}  // namespace

void apply_block_scales(const BlockScales& scales, std::uint64_t first, std::uint64_t stride, float* out,
                        std::size_t count) noexcept {
  if (stride == 1) {
    scale_consecutive(scales, first, out, count);
    return;
  }
  if (stride != 0 && count > 1 && stride % scales.tensor_cols == 0) {
    // Down a column (a sketch's gathered columns): the factor changes only where the rows leave
    // their block, so it is looked up once per block of rows instead of by factor_of's divisions
    // per element.
    const std::uint64_t rows_per_step = stride / scales.tensor_cols;
    const std::uint64_t block = (first % scales.tensor_cols) / scales.block_cols;
    std::uint64_t r = first / scales.tensor_cols;
    for (std::size_t k = 0; k < count;) {
      const float factor = scales.grid[scales.grid_row(r) * scales.grid_cols + block];
      const std::uint64_t in_matrix = r % scales.matrix_rows;
      const std::uint64_t block_end =
          std::min(scales.matrix_rows, (in_matrix / scales.block_rows + 1) * scales.block_rows);
      const std::uint64_t steps_in_block = (block_end - in_matrix + rows_per_step - 1) / rows_per_step;
      const std::size_t steps = static_cast<std::size_t>(std::min<std::uint64_t>(count - k, steps_in_block));
      for (std::size_t i = 0; i < steps; ++i) out[k + i] *= factor;
      k += steps;
      r += steps * rows_per_step;
    }
    return;
  }
  for (std::size_t k = 0; k < count; ++k) out[k] *= scales.factor_of(first + k * stride);
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
