#pragma once
/// @file row_block_partial.hpp
/// What a rank computes for one row block of a split unit (stages/plan/row_blocks.hpp), as the
/// journal keeps it until every block of the unit is done: the block, its pass accumulators, the
/// raw-byte hashes of its elements, and for block 0 the unit's sampled statistics (the ones that
/// do not merge by blocks, execute_unit.hpp unit_sampled_outcome). Serialised as the payload of a
/// journal block record (io/journal/journal.hpp); the histograms are stored sparsely, so a small
/// block costs a small record.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stages/execute/unit_kernel.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::stages {

/// The raw-byte hashes of a unit's (or a row block's) two sides.
struct UnitHashes {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};

struct RowBlockPartial {
  RowBlock block;
  UnitSums sums{0};
  std::uint64_t hash_a = 0;
  std::uint64_t hash_b = 0;
  /// Block 0 only: the unit's sampled statistics (null, sketches, neuron matching).
  std::optional<UnitOutcome> sampled;

  [[nodiscard]] std::vector<std::byte> serialize() const;
  /// Throws StoreError on a record of another version, InternalError on one that does not parse.
  [[nodiscard]] static RowBlockPartial deserialize(std::uint64_t unit_id, std::span<const std::byte> payload);
};

}  // namespace lineage::stages
