#pragma once
/// @file model_fingerprint.hpp
/// The fingerprint of a model folder recorded in the result store: every shard's file size and
/// the xxh3-64 of its JSON header and of 16 sampled 4 KiB data blocks (cheap for 1 TB models;
/// the blocks tell apart models of one architecture, whose headers are equal).

#include <filesystem>
#include <string>
#include <vector>

#include "io/store/result_store.hpp"

namespace lineage::io {

[[nodiscard]] StoredModel fingerprint_model(const std::string& label, const std::filesystem::path& dir,
                                            const std::vector<std::string>& shard_files);

}  // namespace lineage::io
