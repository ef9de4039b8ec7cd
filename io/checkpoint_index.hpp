#pragma once
/// @file checkpoint_index.hpp
/// model.safetensors.index.json, read in one pass without a JSON DOM: a 100k-tensor checkpoint's
/// index is a few MB, and building and walking its DOM twice (once to see whether shards are
/// missing, once to list them) was a fifth of `lineage plan`. What it yields is what the DOM
/// reading gave: entries in name order, of repeated keys the last.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lineage::io {

class ModelSource;

struct CheckpointIndex {
  std::string where;  ///< the index file, for messages
  /// (tensor, shard file) by tensor name; nullopt where the value is not a string (the listing
  /// refuses it when it reaches that name).
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;
  std::optional<std::uint64_t> total_size;        ///< metadata.total_size (a number or a decimal string)
  std::optional<std::uint64_t> total_parameters;  ///< metadata.total_parameters
};

/// Throws InputError(where, ...) for malformed JSON, nesting deeper than kMaxJsonDepth, or no
/// weight_map object; the reason never contains the text itself.
[[nodiscard]] CheckpointIndex parse_checkpoint_index(std::string_view text, const std::string& where);

/// The folder's index, or nullopt when it has none (through `source`, local or remote).
[[nodiscard]] std::optional<CheckpointIndex> read_checkpoint_index(ModelSource& source);

}  // namespace lineage::io
