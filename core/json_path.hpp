#pragma once
/// @file json_path.hpp
/// Dotted key paths into JSON objects ("text_config.num_hidden_layers"), the way family files
/// name config keys. One lookup for every reader of such paths.

#include <nlohmann/json.hpp>
#include <string_view>

namespace lineage {

/// The value at `dotted` below `root`, each part a key of an object; nullptr when a part is
/// missing or a value on the way is not an object. Keys that hold dots cannot be named.
[[nodiscard]] const nlohmann::json* find_dotted(const nlohmann::json& root, std::string_view dotted);

}  // namespace lineage
