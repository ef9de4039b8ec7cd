#pragma once
/// @file hf_config.hpp
/// Hugging Face config.json files, including the nested configs of VLM and omni models.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lineage::io {

/// Parses a JSON file; InputError with the byte position on malformed JSON.
[[nodiscard]] nlohmann::json read_json_file(const std::filesystem::path& path);

/// `config.json` of a model folder (or the file itself); nullopt if the folder has none.
[[nodiscard]] std::optional<nlohmann::json> read_model_config(const std::filesystem::path& path);

class ModelSource;

/// `config.json` of a model folder that may be remote; nullopt if it has none.
[[nodiscard]] std::optional<nlohmann::json> read_model_config(ModelSource& source);

/// Parses JSON text read from `where`; InputError with the byte position on malformed JSON.
[[nodiscard]] nlohmann::json parse_json_text(const std::string& where, const std::string& text);

struct SubConfig {
  std::string key;  ///< e.g. "text_config", "vision_config"
  const nlohmann::json* config = nullptr;
};

/// Object-valued keys named *_config that describe a sub-model (have model_type, hidden_size or
/// num_hidden_layers), in key order.
[[nodiscard]] std::vector<SubConfig> nested_configs(const nlohmann::json& config);

}  // namespace lineage::io
