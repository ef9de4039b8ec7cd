#pragma once
/// @file expected_tensor.hpp
/// The tensors a family definition says a concrete config must have, with shapes derived from
/// the config. Used by the inventory (index-only mode, shape checks) and by the synthetic
/// checkpoint generator (tools/synth), which writes exactly these names and shapes.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/family_spec.hpp"
#include "core/tensor_key.hpp"

namespace lineage::stages {

using lineage::StorageLayout;

struct ExpectedTensor {
  std::string name;
  TensorKey key;                     ///< expert = -1 for stacked tensors (views carry experts)
  std::vector<std::uint64_t> shape;  ///< stored shape
  std::optional<Dtype> dtype;        ///< fixed dtype if the family says so
  StorageLayout layout;
  bool optional = false;
  int entry = -1;  ///< index of the bound family entry that produced it
};

}  // namespace lineage::stages
