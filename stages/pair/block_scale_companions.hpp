#pragma once
/// @file block_scale_companions.hpp
/// Which stored weights of a model are block-scaled codes and where their factors are
/// (METHODS §0): a weight stored in an 8-bit float format beside a scale companion
/// (families/_quantization.yaml: block-FP8 `weight_scale_inv`, `weight_scale`; same key, kind
/// scale) whose shape is a grid of blocks over the weight's last two dimensions. The block size is
/// read from the two shapes (the power of two b with ceil(d / b) equal to the grid's dimension;
/// 128 x 128 in DeepSeek-V3 and Kimi-K2), not assumed.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "stages/execute/block_scales.hpp"
#include "stages/inventory/inventory.hpp"

namespace lineage::stages {

/// Where a block-scaled weight's factors are and how its elements map onto them (BlockScales).
struct BlockScaleSource {
  std::size_t scale_tensor = 0;  ///< index into Inventory::tensors
  std::uint64_t tensor_cols = 0;
  std::uint64_t matrix_rows = 0;
  std::uint64_t block_rows = 0;
  std::uint64_t block_cols = 0;
  std::uint64_t grid_cols = 0;
  std::uint64_t grid_elements = 0;
};

class BlockScaleCompanions {
 public:
  BlockScaleCompanions() = default;
  /// Scans `inv` for weights with a scale companion (the names are copied: this does not refer to
  /// `inv` afterwards, but BlockScaleSource::scale_tensor is a position in it: build it again when
  /// the inventory changes). A compare run builds it once per model (RunModel::block_scales).
  explicit BlockScaleCompanions(const Inventory& inv);

  /// The factors of the stored tensor named `tensor`, or null when it is stored as its values
  /// (or its companion's shape fits no block grid: unscaled_weights counts those).
  [[nodiscard]] const BlockScaleSource* of(std::string_view tensor) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return by_name_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return by_name_.size(); }
  /// Float-coded weights beside a scale companion that fits no block grid of their shape: they
  /// are compared on their codes, and the run says so.
  [[nodiscard]] std::size_t unscaled_weights() const noexcept { return unscaled_; }

 private:
  /// Looked up by string_view without a copy of the name.
  struct NameHash {
    using is_transparent = void;
    // Not noexcept: libstdc++ then keeps each entry's hash, as it does for std::hash<std::string>.
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::unordered_map<std::string, BlockScaleSource, NameHash, std::equal_to<>> by_name_;
  std::size_t unscaled_ = 0;
};

/// The factors of a weight, from its scale companion `scale_tensor` (the inventory's tensor
/// source.scale_tensor) whose stored bytes are `stored`, read from `file`: decoded and laid out as
/// `source` says. Throws InputError naming the file, tensor and offset when the bytes are
/// not the grid's.
[[nodiscard]] BlockScales block_scales_of(const BlockScaleSource& source, const ClassifiedTensor& scale_tensor,
                                          std::span<const std::byte> stored, const std::string& file);

/// Copies `tensor`'s stored bytes into `out` (tensor.data_end - tensor.data_begin of them): the
/// caller's open file, by pread.
using ReadStoredBytes = std::function<void(const ClassifiedTensor& tensor, std::span<std::byte> out)>;

/// The factors of a weight of `inv` (the model in folder `model_dir`) whose companion is `source`:
/// its grid's bytes copied by `read`, then block_scales_of (errors name the companion's file).
/// Throws InternalError when inv's tensor at source.scale_tensor is not a scale companion of the
/// grid's size (a list built from another state of the inventory).
[[nodiscard]] BlockScales read_block_scales(const BlockScaleSource& source, const Inventory& inv,
                                            const std::string& model_dir, const ReadStoredBytes& read);

/// Whether a weight's codes are 8-bit floats that a scale companion turns into values.
[[nodiscard]] bool is_block_scalable(Dtype weight) noexcept;

}  // namespace lineage::stages
