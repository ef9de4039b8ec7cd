#pragma once
/// @file block_scales.hpp
/// A quantised weight's block scales (METHODS §0): a block-FP8 checkpoint (DeepSeek-V3 style)
/// stores each weight as F8_E4M3 codes beside an F32 `weight_scale_inv` with one factor per
/// 128 x 128 block, and the weight's value is the code times its block's factor. Every statistic
/// is computed on those values: a reader that decodes a view's elements multiplies each by its
/// block's factor (apply_block_scales) where the view has scales (ElementView::scales).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lineage::stages {

/// The stored element (r, c) of a weight, r and c in its stored 2-D layout (the last dimension
/// is the columns; the leading dimensions are stacked matrices of `matrix_rows` rows each),
/// stands for code(r, c) * grid[block row, c / block_cols] in float, its block row being
/// (r / matrix_rows) * ceil(matrix_rows / block_rows) + (r % matrix_rows) / block_rows: a matrix's
/// last blocks may be partial (zero-padded before scaling), and the grid has whole rows of them.
struct BlockScales {
  std::vector<float> grid;  ///< the factors, decoded, row-major [grid rows, grid_cols]
  std::uint64_t grid_cols = 0;
  std::uint64_t block_rows = 128;
  std::uint64_t block_cols = 128;
  std::uint64_t tensor_cols = 0;  ///< the weight's last dimension
  std::uint64_t matrix_rows = 0;  ///< rows of each stacked matrix (all rows of a 2-D weight)

  /// The grid row of the weight's stored row `r`.
  [[nodiscard]] std::uint64_t grid_row(std::uint64_t r) const noexcept {
    const std::uint64_t blocks_per_matrix = (matrix_rows + block_rows - 1) / block_rows;
    return (r / matrix_rows) * blocks_per_matrix + (r % matrix_rows) / block_rows;
  }
  /// The factor of stored element index `stored` (row-major over the weight's stored elements).
  [[nodiscard]] float factor_of(std::uint64_t stored) const noexcept {
    return grid[grid_row(stored / tensor_cols) * grid_cols + (stored % tensor_cols) / block_cols];
  }
};

/// Multiplies `count` decoded elements `out[k]`, the weight's stored elements
/// first + k * stride, by their blocks' factors (each product rounded to float, as the
/// checkpoint's own dequantisation computes it).
void apply_block_scales(const BlockScales& scales, std::uint64_t first, std::uint64_t stride, float* out,
                        std::size_t count) noexcept;

/// XXH3-64 of the factors of grid rows [first, end) as floats (4 little-endian bytes each).
[[nodiscard]] std::uint64_t grid_rows_hash(const BlockScales& scales, std::uint64_t first, std::uint64_t end) noexcept;

/// XXH3-64 of two hashes, 16 little-endian bytes: a weight's codes' hash with its factors'.
[[nodiscard]] std::uint64_t fold_hashes(std::uint64_t codes, std::uint64_t factors) noexcept;

}  // namespace lineage::stages
