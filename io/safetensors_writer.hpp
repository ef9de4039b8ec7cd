#pragma once
/// @file safetensors_writer.hpp
/// Writes a safetensors file atomically, tensors in the given order, header padded with spaces
/// to a multiple of 8 bytes (as the reference implementation does).

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace lineage::io {

struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::BF16;
  std::vector<std::uint64_t> shape;
  std::span<const std::byte> data;  ///< exactly product(shape) * dtype_size bytes
};

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lineage::io
