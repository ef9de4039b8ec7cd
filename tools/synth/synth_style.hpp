#pragma once
/// @file synth_style.hpp
/// A naming style: which family file (and storage variant) the generator writes, the tiny
/// config.json template in that family's key spelling, which config keys hold the counts the
/// scenarios change, and the dense family used as the parent of upcycling. Kept as data in
/// tools/synth/styles/<style>.json.

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lineage::tools {

struct SynthStyle {
  std::string name;
  std::string family;
  std::string variant;  ///< "" for the family's default tensors only
  nlohmann::json config;
  std::string layers_key = "num_hidden_layers";
  std::string experts_key;
  std::string top_k_key;
  std::string vocab_key = "vocab_size";
  std::string dense_family;  ///< family of the dense parent for `upcycled`
  nlohmann::json dense_config;
};

/// Names of the available styles (file stems), sorted.
[[nodiscard]] std::vector<std::string> list_styles(const std::filesystem::path& dir);
/// Loads `<dir>/<name>.json`; `overrides` (key -> value) are merged into both configs
/// (geometry keys only are meaningful). ConfigError on a missing file or key.
[[nodiscard]] SynthStyle load_style(const std::filesystem::path& dir, const std::string& name,
                                    const nlohmann::json& overrides = nlohmann::json::object());

}  // namespace lineage::tools
