#include "stages/execute/unit_neurons.hpp"

#include <vector>

#include "io/dtype_decode.hpp"
#include "stages/execute/block_scales.hpp"

namespace lineage::stages {

std::optional<NeuronAxis> neuron_axis(const ComparisonUnit& unit) noexcept {
  if (unit.kind != UnitKind::same_key && unit.kind != UnitKind::cross_role && unit.kind != UnitKind::matched_expert)
    return std::nullopt;
  const auto& key = unit.key_a;
  if (key.kind != ParamKind::weight) return std::nullopt;
  if (key.role != TensorRole::dense_mlp && key.role != TensorRole::shared_expert &&
      key.role != TensorRole::routed_expert) {
    return std::nullopt;
  }
  switch (key.projection) {
    case Projection::gate:
    case Projection::up:
    case Projection::gate_up:
      return NeuronAxis::rows;  // [intermediate, hidden]
    case Projection::down:
      return NeuronAxis::cols;  // [hidden, intermediate]
    default:
      return std::nullopt;
  }
}

namespace {

/// One side of a unit as a NeuronSource. Neurons are rows (gate/up) or columns (down); either
/// way the reads follow the stored rows: runs of consecutive columns are decoded together (and
/// multiplied by their block scales, a quantised weight's).
class ViewSource final : public NeuronSource {
 public:
  ViewSource(const ElementView& v, std::span<const std::byte> bytes, bool neuron_rows, std::uint64_t neurons)
      : v_(v), bytes_(bytes), size_(dtype_size(v.dtype)), rows_(neuron_rows), neurons_(neurons) {}

  void all_at(std::span<const std::uint64_t> dims, float* out) const override {
    if (rows_) {
      for (std::uint64_t j = 0; j < neurons_; ++j) row_at(j, dims, out + j * dims.size());
      return;
    }
    // Neurons are columns: each dimension is one stored row, decoded whole.
    std::vector<float> line(neurons_);
    const std::vector<std::uint64_t> cols = [&] {
      std::vector<std::uint64_t> all(neurons_);
      for (std::uint64_t j = 0; j < neurons_; ++j) all[j] = j;
      return all;
    }();
    for (std::size_t c = 0; c < dims.size(); ++c) {
      row_at(dims[c], cols, line.data());
      for (std::uint64_t j = 0; j < neurons_; ++j) out[j * dims.size() + c] = line[j];
    }
  }

  void some_at(std::span<const std::uint64_t> which, std::span<const std::uint64_t> dims, float* out) const override {
    if (rows_) {
      for (std::size_t i = 0; i < which.size(); ++i) row_at(which[i], dims, out + i * dims.size());
      return;
    }
    std::vector<float> line(which.size());
    for (std::size_t c = 0; c < dims.size(); ++c) {
      row_at(dims[c], which, line.data());
      for (std::size_t i = 0; i < which.size(); ++i) out[i * dims.size() + c] = line[i];
    }
  }

 private:
  /// Stored row r at columns `cols` (ascending runs of consecutive columns decode as one span).
  void row_at(std::uint64_t r, std::span<const std::uint64_t> cols, float* out) const {
    for (std::size_t c = 0; c < cols.size();) {
      std::size_t run = 1;
      if (v_.col_stride == 1) {
        while (c + run < cols.size() && cols[c + run] == cols[c] + run) ++run;
      }
      const auto* p = bytes_.data() + (v_.offset + r * v_.row_stride + cols[c] * v_.col_stride) * size_;
      if (run > 1) {
        io::decode_to_float(v_.dtype, std::span<const std::byte>(p, run * size_), std::span<float>(out + c, run));
      } else {
        out[c] = io::float_at(v_.dtype, p);
      }
      if (v_.scales)
        apply_block_scales(*v_.scales, v_.offset + r * v_.row_stride + cols[c] * v_.col_stride, v_.col_stride, out + c,
                           run);
      c += run;
    }
  }
  const ElementView& v_;
  std::span<const std::byte> bytes_;
  std::size_t size_;
  bool rows_;
  std::uint64_t neurons_;
};

}  // namespace

NeuronMatching match_unit_neurons(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                  std::span<const std::byte> b_tensor, const NeuronMatchOptions& options) {
  const auto axis = neuron_axis(unit);
  const bool rows = axis == NeuronAxis::rows;
  const std::uint64_t neurons = !axis ? 0 : rows ? unit.rows : unit.cols, hidden = rows ? unit.cols : unit.rows;
  const ViewSource a(unit.a, a_tensor, rows, neurons), b(unit.b, b_tensor, rows, neurons);
  return match_neurons(neurons, hidden, a, b, options);
}

}  // namespace lineage::stages
