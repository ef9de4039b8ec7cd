#pragma once
/// @file comparison_unit.hpp
/// One unit of comparison work: two 2-D element views (one per model) with the same logical
/// shape, compared by the statistics of METHODS §2. Units are the granularity of sharding,
/// journaling and resume; a unit is always computed whole by one rank, so results do not depend
/// on the rank count.

#include <cstdint>
#include <vector>

#include "core/dtype.hpp"
#include "core/shared_name.hpp"
#include "core/tensor_key.hpp"
#include "core/unit_kind.hpp"
#include "io/spilled_vector.hpp"

namespace lineage::stages {

struct BlockScales;  // stages/execute/block_scales.hpp

/// Where one side's elements are: element (r, c) is at byte
/// data_begin + (offset + r * row_stride + c * col_stride) * dtype_size in `file`.
struct ElementView {
  int model = 0;      ///< index into the run's model list (0 = suspect)
  SharedName tensor;  ///< shared: the views of one tensor are copied into many units
  SharedName file;    ///< shard file name relative to the model folder
  Dtype dtype = Dtype::BF16;
  std::uint64_t data_begin = 0;
  std::uint64_t offset = 0;
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t row_stride = 0;
  std::uint64_t col_stride = 1;
  /// A quantised weight's block scales (METHODS §0), which every reader of the view applies to
  /// the decoded codes; null for a weight stored as its values. Not the plan's: whoever reads the
  /// weight's bytes for a unit sets it on its copy of the unit, for as long as that read lasts.
  const BlockScales* scales = nullptr;
  [[nodiscard]] bool contiguous() const noexcept { return col_stride == 1 && (row_stride == cols || rows <= 1); }
};

struct ComparisonUnit {
  std::uint64_t id = 0;  ///< stable: position in the unit list
  UnitKind kind = UnitKind::same_key;
  // The flags sit together beside `kind`: a plan holds 400k units for a 100k-tensor checkpoint.
  /// Keep both sides' decoded values in the store (norm vectors, routers: small and needed
  /// whole for the layer x layer analyses).
  bool keep_values = false;
  /// Baselines read only the rows the permutation null samples (stages/null/hidden_null.hpp):
  /// they describe a null, so a sample serves them as well as the whole tensor at a fraction
  /// of the bytes. Same-key and sub-matrix units always read everything.
  bool sampled = false;
  /// Sketch both sides' expert (stages/execute/expert_sketch.hpp): routed-expert weights.
  bool sketch = false;
  /// A screening run's unit (RunConfig::screen): the pass computes PassStatistics::screen and
  /// nothing is sampled.
  bool screen = false;
  TensorKey key_a;
  TensorKey key_b;
  ElementView a;
  ElementView b;
  std::uint64_t rows = 0;  ///< compared shape (common to both views)
  std::uint64_t cols = 0;
  std::uint64_t sampled_rows = 0;  ///< rows read when `sampled`
  /// token_mapped units: the mapped rows of each side (rows = their count; `sampled` is set).
  std::vector<std::uint64_t> rows_a;
  std::vector<std::uint64_t> rows_b;
  [[nodiscard]] std::uint64_t elements() const noexcept { return rows * cols; }
  /// Rows the statistics are computed over.
  [[nodiscard]] std::uint64_t read_rows() const noexcept { return sampled ? sampled_rows : rows; }
  /// Bytes read (both sides) by the pass over the unit.
  [[nodiscard]] std::uint64_t bytes() const noexcept {
    return read_rows() * cols * (dtype_size(a.dtype) + dtype_size(b.dtype));
  }
};

/// A run's units, in id order.
using UnitList = io::SpilledVector<ComparisonUnit>;

}  // namespace lineage::stages
