#pragma once
/// @file checkpoint_listing.hpp
/// Lists the tensors of a Hugging Face checkpoint folder: a single `model.safetensors`, or
/// shards named by `model.safetensors.index.json`. Reads the index and shard headers only.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor_listing.hpp"
#include "io/checkpoint_index.hpp"

namespace lineage::io {

inline constexpr const char* kIndexFileName = "model.safetensors.index.json";
inline constexpr const char* kSingleFileName = "model.safetensors";

/// @param[in] model_dir   the checkpoint folder
/// @param[in] index_only  read only the index (shards may be absent); names and files only
/// Throws InputError naming the file, tensor and offset for: malformed index, a shard path that
/// escapes the folder, a missing shard, an index entry not found in its shard, any invalid header.
[[nodiscard]] TensorListing list_checkpoint(const std::filesystem::path& model_dir, bool index_only);

class ModelSource;

/// The same for a model folder that may be remote (model_source.hpp): the index, then per shard
/// the 8-byte length and the header, by range reads.
[[nodiscard]] TensorListing list_checkpoint(ModelSource& source, bool index_only);

/// The same with the folder's index already read (read_checkpoint_index; nullopt: the folder has
/// none), for a caller that looked at it first: it checked the folder (ModelSource::check_folder)
/// before reading the index, so that a missing folder is reported as one, not as a missing index.
[[nodiscard]] TensorListing list_checkpoint(ModelSource& source, bool index_only,
                                            const std::optional<CheckpointIndex>& index);

/// Files of a local folder that show it is not completely downloaded: `*.part` files left by an
/// interrupted `lineage fetch`, shards the index names that are missing, and shards shorter
/// than their header implies. Each entry reads "FILE: REASON". Empty when complete (or when
/// the folder has no index and no single file: list_checkpoint reports that).
[[nodiscard]] std::vector<std::string> incomplete_download(const std::filesystem::path& model_dir);
/// Whether the folder holds a `*.part` file: a `lineage fetch` that did not finish. One look at
/// the folder's entries, no file read (incomplete_download says what else is missing).
[[nodiscard]] bool has_partial_download(const std::filesystem::path& model_dir);

}  // namespace lineage::io
