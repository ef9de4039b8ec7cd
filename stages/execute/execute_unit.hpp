#pragma once
/// @file execute_unit.hpp
/// Computes one comparison unit from the stored bytes of its two tensors: streams both views in
/// fixed blocks through the statistics of docs/methods.md, hashes the raw bytes and keeps
/// small vectors whole. The chunking (kernel blocks within row blocks, stages/plan/row_blocks.hpp)
/// is fixed by the unit, never by the rank count, so a unit's result is bit-identical on 1 or 1000
/// ranks.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stages/execute/row_block_partial.hpp"
#include "stages/execute/unit_kernel.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/pair/comparison_unit.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::stages {

/// The bytes of a unit's two sides copied in while the pass reads them, so that a reader can copy
/// a unit in chunks still in cache when the pass reads them rather than whole before it
/// (docs/benchmarks.md, "chunked reads"). `a(end)` must make bytes [0, end) of the a side's span
/// hold the stored bytes (`b` likewise). Before the pass reads a byte of a side it asks for an
/// `end` past it, never smaller than one it asked for before; a view the pass does not read in
/// stored order (a transposed one, sampled rows) asks for the whole span at once. An empty
/// function: the side's bytes are all there.
struct ArrivingBytes {
  std::function<void(std::uint64_t end)> a, b;
};

/// @param[in] a_tensor, b_tensor  the whole stored bytes of each side's tensor (views index into them)
/// @param[in] null  the permutation null's options (sample size, relabellings)
/// @param[in] block_bytes  the row block size (row_blocks): a unit of several blocks is computed
///            as row_block_partial per block merged by merge_row_blocks, so its outcome is the
///            distributed pass's bit for bit, hashes included
/// @param[in] arriving  how the spans' bytes arrive (ArrivingBytes); every byte of both spans has
///            been asked for when this returns. The outcome does not depend on it.
[[nodiscard]] UnitOutcome execute_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                       std::span<const std::byte> b_tensor, const NullOptions& null = {},
                                       std::uint64_t block_bytes = kRowBlockBytes, const ArrivingBytes& arriving = {});

/// One row block of a split unit, as a rank computes it: the pass's accumulators over the block
/// (row_block_sums) and the XXH3-64 of each side's raw bytes of the block's elements.
[[nodiscard]] RowBlockPartial row_block_partial(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                                std::span<const std::byte> b_tensor, const RowBlock& block,
                                                const NullOptions& null = {});

/// The stored elements [first, end) of `view` that its rows [first_row, first_row + rows) span
/// (every column of the view; end is one past the last row's last element). A rank copies these
/// for a row block (cluster/unit_executor.cpp).
[[nodiscard]] std::pair<std::uint64_t, std::uint64_t> stored_rows(const ElementView& view, std::uint64_t first_row,
                                                                  std::uint64_t rows) noexcept;

/// row_block_partial from a copy of the block's rows alone, so that a rank reads (by pread) only
/// its block rather than mapping the tensor: `a_rows` holds a's stored elements
/// stored_rows(unit.a, block.first_row, block.rows), and `b_rows` likewise, their bytes arriving
/// as `arriving` says (ArrivingBytes). The same partial, bit for bit. Only for units split into
/// row blocks (splits_into_row_blocks), and spans that hold stored_rows (InternalError otherwise).
[[nodiscard]] RowBlockPartial row_block_partial_of_rows(const ComparisonUnit& unit, std::span<const std::byte> a_rows,
                                                        std::span<const std::byte> b_rows, const RowBlock& block,
                                                        const NullOptions& null = {},
                                                        const ArrivingBytes& arriving = {});

/// Whether `unit` reads nothing but its sampled rows, stored whole: a baseline or within-model
/// unit sampled on the null's rows (ComparisonUnit::sampled), neither sketched nor keeping its
/// values, each row's elements consecutive on both sides. A rank copies those rows by pread
/// (execute_unit_of_sampled_rows) rather than faulting them in through the mapping.
[[nodiscard]] bool reads_sampled_rows_only(const ComparisonUnit& unit) noexcept;

/// The view rows such a unit reads (the null's sampled rows), in the order its copy holds them.
[[nodiscard]] std::vector<std::uint64_t> sampled_rows_of(const ComparisonUnit& unit, const NullOptions& null = {});

/// execute_unit for a unit that reads_sampled_rows_only, from copies of its sampled rows: row k
/// of `a_rows` is the first unit.cols elements of view row sampled_rows_of(unit)[k] of a (and
/// `b_rows` of b). The same outcome, bit for bit, hashes included; InternalError for another unit
/// or copies of another size.
[[nodiscard]] UnitOutcome execute_unit_of_sampled_rows(const ComparisonUnit& unit, std::span<const std::byte> a_rows,
                                                       std::span<const std::byte> b_rows, const NullOptions& null = {});

/// The statistics of a unit that are not sums over its elements and so do not merge by blocks:
/// the permutation null (on rows sampled across the whole tensor), the expert sketches and the
/// neuron matching. They read only their samples of the whole tensors, so the rank of a split
/// unit's block 0 computes them; the pass's fields are left at their defaults.
[[nodiscard]] UnitOutcome unit_sampled_outcome(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                               std::span<const std::byte> b_tensor, const NullOptions& null = {});

/// Both sides' sketches of a sketched unit (ComparisonUnit::sketch), as the pass makes them;
/// empty vectors for a unit that is not sketched. They read only the sketch's hidden dimensions.
[[nodiscard]] std::pair<std::vector<float>, std::vector<float>> unit_sketches(const ComparisonUnit& unit,
                                                                              std::span<const std::byte> a_tensor,
                                                                              std::span<const std::byte> b_tensor);

/// The rows one side's sketch reads, where its hidden axis is the row axis and rows are stored
/// contiguously (a down projection [hidden, neurons]): sketch_dims(view.rows), ascending. Empty
/// otherwise (the sketch reads columns, or the unit is not sketched).
[[nodiscard]] std::vector<std::uint64_t> sketch_rows(const ComparisonUnit& unit, const ElementView& view);

/// The sketch of a side from only the stored bytes of its sketch_rows(), in that order and
/// back to back (view.cols elements each): bit for bit the side's sketch in unit_sketches, for a
/// reader that fetches a few rows instead of mapping the tensor. Throws InternalError when
/// `rows` has another size.
[[nodiscard]] std::vector<float> sketch_from_rows(const ElementView& view, std::span<const std::byte> rows);

/// A split unit's outcome from `sampled` (unit_sampled_outcome) and every one of its blocks'
/// partials in block order: the sums are merged in block order (UnitSums::merge from empty sums,
/// so the bits do not depend on where a block ran) and each side's hash is the XXH3-64 of its
/// block hashes in block order (8 little-endian bytes each), not the XXH3 of the whole elements.
/// Throws InternalError unless `partials` are blocks 0..count-1 of `unit`, in order.
[[nodiscard]] UnitOutcome merge_row_blocks(const ComparisonUnit& unit, UnitOutcome sampled,
                                           std::span<const RowBlockPartial> partials);
/// The same merge with the blocks read one at a time, in block order (`block_at(i)` for i <
/// `count`), so only one block's accumulators are held at once; the sampled statistics are block
/// 0's (RowBlockPartial::sampled; InternalError when it has none).
[[nodiscard]] UnitOutcome merge_row_blocks(const ComparisonUnit& unit, std::uint64_t count,
                                           const std::function<RowBlockPartial(std::uint64_t)>& block_at);

/// The pass's accumulators over one row block of the unit (row_blocks(unit)), from fresh sums:
/// what execute_unit merges, in block order, into the unit's moment statistics. Any block may be
/// computed anywhere and in any order; merged with UnitSums::merge in block order, the blocks give
/// execute_unit's sums bit for bit. A block with count 1 covers every element the pass reads.
[[nodiscard]] UnitSums row_block_sums(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                      std::span<const std::byte> b_tensor, const RowBlock& block,
                                      const NullOptions& null = {});

/// The raw-byte hashes of a unit's two sides (UnitOutcome::hash_a/hash_b), computed alone: the
/// same elements in the same order as execute_unit, without the statistics (for a split unit,
/// the hash of its block hashes). A resumed run re-checks the units it takes from the journal
/// with it (a changed shard hashes differently).
[[nodiscard]] UnitHashes hash_unit(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                   std::span<const std::byte> b_tensor, const NullOptions& null = {},
                                   std::uint64_t block_bytes = kRowBlockBytes);
/// The hashes of one row block's elements (RowBlockPartial::hash_a/hash_b): the re-check of a
/// journaled block of a unit not yet complete.
[[nodiscard]] UnitHashes row_block_hashes(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                          std::span<const std::byte> b_tensor, const RowBlock& block,
                                          const NullOptions& null = {});

}  // namespace lineage::stages
