#pragma once
/// @file sketch_gather.hpp
/// A sketched side's sketch elements taken from the pass's blocks (decoded, or BF16 as stored)
/// while they are still in cache. Gathered from the tensor after the pass (execute_unit's
/// sketch_of), a gate or up projection's sketch reads 16 elements of every row: a quarter of the
/// cache lines of a 4 KiB BF16 row, long evicted by then (sketch_of was 7.7% of the pass alone,
/// docs/benchmarks.md).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

/// Where a side's expert sketch lies in its view: the hidden axis (the rows of a down projection
/// [hidden, neurons], the columns of gate/up [neurons, hidden]), the hidden dimensions it reads
/// (sketch_dims of that axis; empty: the side has no sketch) and the neurons it reads them over.
/// The one rule sketch_of, sketch_rows (execute_unit.cpp) and SketchGather share.
struct SketchLayout {
  bool hidden_rows = false;
  std::vector<std::uint64_t> dims;
  std::uint64_t neurons = 0;
};
[[nodiscard]] SketchLayout sketch_layout(const ComparisonUnit& unit, const ElementView& view);

class SketchGather {
 public:
  /// Gathers side `view` of `unit` when the pass reads each of the view's elements once in
  /// logical order: a sketched unit (ComparisonUnit::sketch) neither sampled nor token-mapped,
  /// whose pass covers `pass_elements` = every element of the view, view.cols to a row. Inactive
  /// otherwise (then take() does nothing and the sketch is read from the tensor, as before).
  SketchGather(const ComparisonUnit& unit, const ElementView& view, std::uint64_t pass_elements);

  [[nodiscard]] bool active() const noexcept { return active_; }

  /// The decoded logical elements [start, start + count) of the view (a kernel block): keeps those
  /// the sketch reads.
  void take(std::uint64_t start, std::size_t count, const float* decoded);
  /// The same elements as stored, BF16 (two bytes each, one after the other): the same sketch.
  void take_bf16(std::uint64_t start, std::size_t count, const std::byte* stored);

  /// The side's sketch (expert_sketch of the gathered elements), bit for bit what reading the
  /// tensor gives. InternalError when inactive or when take() and take_bf16() have not
  /// seen every element.
  [[nodiscard]] std::vector<float> sketch() const;

 private:
  /// take() with value(k) the element start + k.
  template <typename Value>
  void take_values(std::uint64_t start, std::size_t count, Value value);

  bool active_ = false;
  bool hidden_rows_ = false;  // the hidden axis is the view's rows (a down projection)
  std::uint64_t cols_ = 0;
  std::uint64_t neurons_ = 0;
  std::vector<std::uint64_t> dims_;
  std::vector<float> x_;  // dims-major: x_[i * neurons_ + n], as expert_sketch reads it
  std::uint64_t taken_ = 0;
};

}  // namespace lineage::stages
