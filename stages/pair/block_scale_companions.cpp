#include "stages/pair/block_scale_companions.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <vector>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"

namespace lineage::stages {
namespace {

/// The smallest power of two b with ceil(d / b) == g (any larger b with the same quotient maps
/// every element to the same block), or 0 when there is none.
std::uint64_t block_of(std::uint64_t d, std::uint64_t g) {
  if (d == 0 || g == 0) return 0;
  for (std::uint64_t b = 1; b <= (std::uint64_t{1} << 40); b <<= 1) {
    if ((d + b - 1) / b == g) return b;
    if ((d + b - 1) / b < g) return 0;
  }
  return 0;
}

std::uint64_t product(const std::vector<std::uint64_t>& dims, std::size_t begin, std::size_t end) {
  return std::accumulate(dims.begin() + static_cast<long>(begin), dims.begin() + static_cast<long>(end),
                         std::uint64_t{1}, std::multiplies<>());
}

/// How a weight of shape `w` maps onto a grid of shape `g`, or nullopt when it does not: the same
/// leading (stacked) dimensions and a block grid over the last two, or one factor for the whole.
std::optional<BlockScaleSource> source_of(const std::vector<std::uint64_t>& w, const std::vector<std::uint64_t>& g,
                                          std::size_t scale_tensor) {
  const std::size_t n = w.size();
  if (n < 2) return std::nullopt;
  BlockScaleSource s;
  s.scale_tensor = scale_tensor;
  s.tensor_cols = w[n - 1];
  s.grid_elements = product(g, 0, g.size());
  if (s.grid_elements == 1) {
    // One factor for the whole tensor: every row is in the first block of one matrix.
    s.matrix_rows = product(w, 0, n - 1);
    s.block_rows = block_of(s.matrix_rows, 1);
    s.block_cols = block_of(s.tensor_cols, 1);
    s.grid_cols = 1;
  } else {
    if (g.size() != n) return std::nullopt;
    for (std::size_t d = 0; d + 2 < n; ++d) {
      if (g[d] != w[d]) return std::nullopt;
    }
    s.matrix_rows = w[n - 2];
    s.block_rows = block_of(w[n - 2], g[n - 2]);
    s.block_cols = block_of(w[n - 1], g[n - 1]);
    s.grid_cols = g[n - 1];
  }
  if (s.block_rows == 0 || s.block_cols == 0 || s.matrix_rows == 0 || s.tensor_cols == 0) return std::nullopt;
  return s;
}

}  // namespace

bool is_block_scalable(Dtype weight) noexcept { return weight == Dtype::F8_E4M3 || weight == Dtype::F8_E5M2; }

BlockScaleCompanions::BlockScaleCompanions(const Inventory& inv) {
  std::map<TensorKey, std::size_t> scale_of;
  for (std::size_t i = 0; i < inv.tensors.size(); ++i) {
    const auto& t = inv.tensors[i];
    if (t.key.kind != ParamKind::scale || !t.dtype || !dtype_is_float(*t.dtype) || !t.shape_known) continue;
    TensorKey weight = t.key;
    weight.kind = ParamKind::weight;
    scale_of.emplace(weight, i);
  }
  if (scale_of.empty()) return;
  for (const auto& t : inv.tensors) {
    if (t.key.kind != ParamKind::weight || !t.dtype || !is_block_scalable(*t.dtype) || !t.shape_known) continue;
    const auto it = scale_of.find(t.key);
    if (it == scale_of.end()) continue;
    const auto source = source_of(t.shape, inv.tensors[it->second].shape, it->second);
    if (source) {
      by_name_.emplace(t.name, *source);
    } else {
      ++unscaled_;
    }
  }
}

BlockScales block_scales_of(const BlockScaleSource& source, const ClassifiedTensor& scale_tensor,
                            std::span<const std::byte> stored, const std::string& file) {
  if (!scale_tensor.dtype || stored.size() != source.grid_elements * dtype_size(*scale_tensor.dtype)) {
    throw InputError(file,
                     "holds " + std::to_string(stored.size()) + " bytes, not " + std::to_string(source.grid_elements) +
                         " block scales",
                     scale_tensor.name, scale_tensor.data_begin);
  }
  BlockScales scales;
  scales.grid.resize(source.grid_elements);
  io::decode_to_float(*scale_tensor.dtype, stored, scales.grid);
  scales.grid_cols = source.grid_cols;
  scales.block_rows = source.block_rows;
  scales.block_cols = source.block_cols;
  scales.tensor_cols = source.tensor_cols;
  scales.matrix_rows = source.matrix_rows;
  return scales;
}

BlockScales read_block_scales(const BlockScaleSource& source, const Inventory& inv, const std::string& model_dir,
                              const ReadStoredBytes& read) {
  if (source.scale_tensor >= inv.tensors.size()) {
    throw InternalError("block scales: tensor " + std::to_string(source.scale_tensor) + " of " + inv.model_dir +
                        " is past its inventory's " + std::to_string(inv.tensors.size()));
  }
  const auto& companion = inv.tensors[source.scale_tensor];
  if (companion.key.kind != ParamKind::scale ||
      product(companion.shape, 0, companion.shape.size()) != source.grid_elements) {
    throw InternalError("block scales: " + companion.name + " of " + inv.model_dir + " is not the scale grid of " +
                        std::to_string(source.grid_elements) + " factors its weight was listed with");
  }
  std::vector<std::byte> stored(companion.data_end - companion.data_begin);
  read(companion, stored);
  return block_scales_of(source, companion, stored, (std::filesystem::path(model_dir) / companion.file.str()).string());
}

const BlockScaleSource* BlockScaleCompanions::of(std::string_view tensor) const noexcept {
  const auto it = by_name_.find(tensor);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace lineage::stages
