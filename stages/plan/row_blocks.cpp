#include "stages/plan/row_blocks.hpp"

#include <algorithm>

namespace lineage::stages {

bool splits_into_row_blocks(const ComparisonUnit& unit) noexcept {
  return !unit.sampled && !unit.keep_values && unit.kind != UnitKind::token_mapped &&
         unit.kind != UnitKind::expert_sketch && unit.kind != UnitKind::layer_sketch && unit.rows > 1 && unit.cols > 0;
}

std::vector<RowBlock> row_blocks(const ComparisonUnit& unit, std::uint64_t block_bytes) {
  const std::uint64_t total = unit.bytes();
  if (!splits_into_row_blocks(unit) || total <= block_bytes) {
    return {RowBlock{unit.id, 0, 1, 0, unit.rows, total}};
  }
  const std::uint64_t row_bytes = unit.cols * (dtype_size(unit.a.dtype) + dtype_size(unit.b.dtype));
  const std::uint64_t rows_per_block = std::max<std::uint64_t>(1, block_bytes / std::max<std::uint64_t>(1, row_bytes));
  const std::uint64_t count = (unit.rows + rows_per_block - 1) / rows_per_block;
  std::vector<RowBlock> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t first = i * rows_per_block, rows = std::min(rows_per_block, unit.rows - first);
    out.push_back({unit.id, i, count, first, rows, rows * row_bytes});
  }
  return out;
}

BlockedWork blocked_work(std::span<const ComparisonUnit> units, std::uint64_t block_bytes) {
  BlockedWork w;
  for (const auto& u : units) {
    for (const auto& b : row_blocks(u, block_bytes)) {
      w.costs.push_back({w.blocks.size(), b.bytes});
      w.blocks.push_back(b);
    }
  }
  return w;
}

}  // namespace lineage::stages
