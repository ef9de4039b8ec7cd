#include "stages/execute/unit_neurons.hpp"

#include "io/dtype_decode.hpp"

namespace lineage::stages {

std::optional<NeuronAxis> neuron_axis(const ComparisonUnit& unit) noexcept {
  if (unit.kind != UnitKind::same_key && unit.kind != UnitKind::cross_role) return std::nullopt;
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

NeuronMatching match_unit_neurons(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                  std::span<const std::byte> b_tensor, const NeuronMatchOptions& options) {
  const auto axis = neuron_axis(unit);
  if (!axis) return match_neurons(0, 0, {}, {}, options);
  const bool rows = *axis == NeuronAxis::rows;
  const std::uint64_t neurons = rows ? unit.rows : unit.cols, hidden = rows ? unit.cols : unit.rows;
  // Element (neuron, dim) of a side: (row, col) = (neuron, dim) or (dim, neuron).
  const auto reader = [rows](const ElementView& v, std::span<const std::byte> bytes) {
    const auto size = dtype_size(v.dtype);
    return [&v, bytes, size, rows](std::uint64_t neuron, std::span<const std::uint64_t> dims, float* out) {
      for (std::size_t c = 0; c < dims.size(); ++c) {
        const std::uint64_t r = rows ? neuron : dims[c], col = rows ? dims[c] : neuron;
        out[c] = static_cast<float>(
            io::decode_element(v.dtype, bytes.data() + (v.offset + r * v.row_stride + col * v.col_stride) * size));
      }
    };
  };
  return match_neurons(neurons, hidden, reader(unit.a, a_tensor), reader(unit.b, b_tensor), options);
}

}  // namespace lineage::stages
