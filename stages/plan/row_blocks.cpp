#include "stages/plan/row_blocks.hpp"

#include <algorithm>
#include <string>

#include "core/errors.hpp"

namespace lineage::stages {

bool splits_into_row_blocks(const ComparisonUnit& unit) noexcept {
  return !unit.sampled && !unit.keep_values && unit.kind != UnitKind::token_mapped &&
         unit.kind != UnitKind::expert_sketch && unit.kind != UnitKind::layer_sketch && unit.rows > 1 && unit.cols > 0;
}

namespace {

/// Bytes of one logical row (both sides) and rows per block of a unit that splits.
struct Cut {
  std::uint64_t row_bytes = 0;
  std::uint64_t rows_per_block = 0;
};

Cut cut_of(const ComparisonUnit& unit, std::uint64_t block_bytes) {
  const std::uint64_t row_bytes = unit.cols * (dtype_size(unit.a.dtype) + dtype_size(unit.b.dtype));
  return {row_bytes, std::max<std::uint64_t>(1, block_bytes / std::max<std::uint64_t>(1, row_bytes))};
}

bool whole(const ComparisonUnit& unit, std::uint64_t block_bytes) {
  return !splits_into_row_blocks(unit) || unit.bytes() <= block_bytes;
}

}  // namespace

std::uint64_t row_block_count(const ComparisonUnit& unit, std::uint64_t block_bytes) {
  if (whole(unit, block_bytes)) return 1;
  const auto cut = cut_of(unit, block_bytes);
  return (unit.rows + cut.rows_per_block - 1) / cut.rows_per_block;
}

RowBlock row_block(const ComparisonUnit& unit, std::uint64_t index, std::uint64_t block_bytes) {
  const auto count = row_block_count(unit, block_bytes);
  if (index >= count) {
    throw InternalError("row block " + std::to_string(index) + " of unit " + std::to_string(unit.id) + ", which has " +
                        std::to_string(count));
  }
  if (count == 1) return RowBlock{unit.id, 0, 1, 0, unit.rows, unit.bytes()};
  const auto cut = cut_of(unit, block_bytes);
  const std::uint64_t first = index * cut.rows_per_block, rows = std::min(cut.rows_per_block, unit.rows - first);
  return RowBlock{unit.id, index, count, first, rows, rows * cut.row_bytes};
}

std::vector<RowBlock> row_blocks(const ComparisonUnit& unit, std::uint64_t block_bytes) {
  const auto count = row_block_count(unit, block_bytes);
  std::vector<RowBlock> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(row_block(unit, i, block_bytes));
  return out;
}

std::vector<UnitCost> row_block_costs(std::span<const ComparisonUnit> units, std::uint64_t block_bytes) {
  // Counted first: a 100k-tensor pair has 400k units, and a vector of blocks per unit was one
  // allocation each.
  std::size_t total = 0;
  for (const auto& u : units) total += row_block_count(u, block_bytes);
  std::vector<UnitCost> costs;
  costs.reserve(total);
  for (const auto& u : units) {
    const auto count = row_block_count(u, block_bytes);
    for (std::uint64_t i = 0; i < count; ++i) costs.push_back({costs.size(), row_block(u, i, block_bytes).bytes});
  }
  return costs;
}

}  // namespace lineage::stages
