#pragma once
/// @file checkpoint_listing.hpp
/// Lists the tensors of a Hugging Face checkpoint folder: a single `model.safetensors`, or
/// shards named by `model.safetensors.index.json`. Reads the index and shard headers only.

#include <filesystem>

#include "core/tensor_listing.hpp"

namespace lineage::io {

inline constexpr const char* kIndexFileName = "model.safetensors.index.json";
inline constexpr const char* kSingleFileName = "model.safetensors";

/// @param[in] model_dir   the checkpoint folder
/// @param[in] index_only  read only the index (shards may be absent); names and files only
/// Throws InputError naming the file, tensor and offset for: malformed index, a shard path that
/// escapes the folder, a missing shard, an index entry not found in its shard, any invalid header.
[[nodiscard]] TensorListing list_checkpoint(const std::filesystem::path& model_dir, bool index_only);

}  // namespace lineage::io
