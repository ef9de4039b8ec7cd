#include "tools/synth/synth_style.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "io/hf_config.hpp"

namespace lineage::tools {

std::vector<std::string> list_styles(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

namespace {
std::string get_string(const nlohmann::json& j, const char* key, const std::string& where, bool required,
                       std::string fallback = {}) {
  if (!j.contains(key)) {
    if (required) throw ConfigError(where + ":" + key, "missing");
    return fallback;
  }
  if (!j.at(key).is_string()) throw ConfigError(where + ":" + key, "must be a string");
  return j.at(key).get<std::string>();
}
}  // namespace

SynthStyle load_style(const std::filesystem::path& dir, const std::string& name, const nlohmann::json& overrides) {
  const auto path = dir / (name + ".json");
  if (!std::filesystem::exists(path)) {
    std::string known;
    for (const auto& s : list_styles(dir)) known += (known.empty() ? "" : ", ") + s;
    throw ConfigError(path.string(), "unknown synth style '" + name + "' (known: " + known + ")");
  }
  const nlohmann::json j = io::read_json_file(path);
  const std::string where = path.string();
  SynthStyle s;
  s.name = name;
  s.family = get_string(j, "family", where, true);
  s.variant = get_string(j, "variant", where, false);
  if (!j.contains("config") || !j.at("config").is_object()) {
    throw ConfigError(where + ":config", "missing or not an object");
  }
  s.config = j.at("config");
  s.layers_key = get_string(j, "layers_key", where, false, s.layers_key);
  s.experts_key = get_string(j, "experts_key", where, true);
  s.top_k_key = get_string(j, "top_k_key", where, false);
  s.vocab_key = get_string(j, "vocab_key", where, false, s.vocab_key);
  if (j.contains("dense_parent")) {
    const auto& d = j.at("dense_parent");
    s.dense_family = get_string(d, "family", where + ":dense_parent", true);
    if (!d.contains("config") || !d.at("config").is_object()) {
      throw ConfigError(where + ":dense_parent.config", "missing or not an object");
    }
    s.dense_config = d.at("config");
  }
  for (const auto& [k, v] : overrides.items()) {
    s.config[k] = v;
    if (!s.dense_config.is_null() && s.dense_config.contains(k)) s.dense_config[k] = v;
  }
  return s;
}

}  // namespace lineage::tools
