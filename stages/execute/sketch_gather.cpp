#include "stages/execute/sketch_gather.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {

SketchLayout sketch_layout(const ComparisonUnit& unit, const ElementView& view) {
  SketchLayout layout;
  layout.hidden_rows = null_axis(unit.key_a, view.rows, view.cols) == NullAxis::rows;
  layout.dims = sketch_dims(layout.hidden_rows ? view.rows : view.cols);
  layout.neurons = layout.hidden_rows ? view.cols : view.rows;
  return layout;
}

SketchGather::SketchGather(const ComparisonUnit& unit, const ElementView& view, std::uint64_t pass_elements) {
  if (!unit.sketch || unit.sampled || unit.kind == UnitKind::token_mapped || unit.cols != view.cols ||
      pass_elements != view.rows * view.cols) {
    return;
  }
  auto layout = sketch_layout(unit, view);
  if (layout.dims.empty()) return;
  hidden_rows_ = layout.hidden_rows;
  dims_ = std::move(layout.dims);
  cols_ = view.cols;
  neurons_ = layout.neurons;
  x_.assign(kSketchDims * neurons_, 0.0f);
  active_ = true;
}

void SketchGather::take(std::uint64_t start, std::size_t count, const float* decoded) {
  take_values(start, count, [decoded](std::uint64_t k) { return decoded[k]; });
}

void SketchGather::take_bf16(std::uint64_t start, std::size_t count, const std::byte* stored) {
  take_values(start, count, [stored](std::uint64_t k) { return io::bf16_at(stored + 2 * k); });
}

template <typename Value>
void SketchGather::take_values(std::uint64_t start, std::size_t count, Value value) {
  if (!active_ || count == 0) return;
  const std::uint64_t end = start + count;
  if (hidden_rows_) {
    // Row dims_[i] holds dimension i of every neuron: the part of it inside the block.
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      const std::uint64_t row_begin = dims_[i] * cols_;
      const std::uint64_t lo = std::max(start, row_begin), hi = std::min(end, row_begin + cols_);
      if (lo >= hi) continue;
      float* out = x_.data() + i * neurons_ + (lo - row_begin);
      for (std::uint64_t e = lo; e < hi; ++e) out[e - lo] = value(e - start);
      taken_ += hi - lo;
    }
    return;
  }
  // Row n is neuron n: its elements at columns dims_ inside the block.
  for (std::uint64_t n = start / cols_; n * cols_ < end; ++n) {
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      const std::uint64_t e = n * cols_ + dims_[i];
      if (e < start || e >= end) continue;
      x_[i * neurons_ + n] = value(e - start);
      ++taken_;
    }
  }
}

std::vector<float> SketchGather::sketch() const {
  if (!active_ || taken_ != x_.size()) {
    throw InternalError("SketchGather: " + std::to_string(taken_) + " of the sketch's " + std::to_string(x_.size()) +
                        " elements seen by the pass");
  }
  return expert_sketch(x_, neurons_);
}

}  // namespace lineage::stages
