#pragma once
/// @file hf_config.hpp
/// Hugging Face config.json files, including the nested configs of VLM and omni models.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lineage::io {

/// Layer and expert counts a config.json may state (kLayerKeys / kExpertKeys in hf_config.cpp).
inline constexpr std::int64_t kMaxConfigLayers = 10000;
inline constexpr std::int64_t kMaxConfigExperts = 65536;

/// Parses a JSON file (a regular file, depth-limited: io/json_text.hpp); InputError with the byte
/// position on malformed JSON, never the file's text.
[[nodiscard]] nlohmann::json read_json_file(const std::filesystem::path& path);

/// `config.json` of a model folder (resolved inside it: io/model_folder.hpp) or the file itself;
/// nullopt if the folder has none. Layer and expert counts must be whole numbers within the
/// limits above and well-known keys of the right type: InputError naming the key otherwise.
[[nodiscard]] std::optional<nlohmann::json> read_model_config(const std::filesystem::path& path);

class ModelSource;

/// `config.json` of a model folder that may be remote; nullopt if it has none. The same checks
/// as above: the depth-limited parser (io/json_text.hpp), the count bounds and key types; a
/// local folder's file is resolved inside it and must be a regular file.
[[nodiscard]] std::optional<nlohmann::json> read_model_config(ModelSource& source);

struct SubConfig {
  std::string key;  ///< e.g. "text_config", "vision_config"
  const nlohmann::json* config = nullptr;
};

/// Object-valued keys named *_config that describe a sub-model (have model_type, hidden_size or
/// num_hidden_layers), in key order.
[[nodiscard]] std::vector<SubConfig> nested_configs(const nlohmann::json& config);

}  // namespace lineage::io
