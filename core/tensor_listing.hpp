#pragma once
/// @file tensor_listing.hpp
/// What io/ hands to stages/inventory: every stored tensor's name and, when shard headers were
/// read, its dtype, shape and byte range. An index-only listing (shards not downloaded) has names
/// and shard file names only; the inventory then derives shapes from config.json.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "core/shared_name.hpp"

namespace lineage {

struct ListedTensor {
  std::string name;
  /// Shard file name relative to the model folder; shared by the tensors of one shard (a
  /// 100k-tensor checkpoint has a few shards), and by the inventory's and the units' copies.
  SharedName file;
  std::optional<Dtype> dtype;
  std::optional<std::vector<std::uint64_t>> shape;
  std::uint64_t data_begin = 0;  ///< absolute byte offset of the first byte in `file`
  std::uint64_t data_end = 0;    ///< absolute byte offset one past the last byte
};

struct TensorListing {
  std::string model_dir;
  bool index_only = false;
  std::vector<ListedTensor> tensors;                    ///< sorted by name (index mode) or file offset (single file)
  std::vector<std::string> unindexed;                   ///< found in a shard but missing from the weight map
  std::vector<std::string> shard_files;                 ///< relative names, sorted
  std::optional<std::uint64_t> index_total_size;        ///< metadata.total_size
  std::optional<std::uint64_t> index_total_parameters;  ///< metadata.total_parameters
};

}  // namespace lineage
