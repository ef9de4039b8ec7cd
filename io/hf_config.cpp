#include "io/hf_config.hpp"

#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "io/model_source.hpp"

namespace lineage::io {

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "cannot read file");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_json_text(path.string(), s.str());
}

nlohmann::json parse_json_text(const std::string& where, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(where, std::string("malformed JSON: ") + e.what(), {}, e.byte > 0 ? e.byte - 1 : 0);
  }
}

std::optional<nlohmann::json> read_model_config(ModelSource& source) {
  const auto text = source.read_file("config.json");
  if (!text) return std::nullopt;
  auto j = parse_json_text(source.where("config.json"), *text);
  if (!j.is_object()) throw InputError(source.where("config.json"), "config is not a JSON object");
  return j;
}

std::optional<nlohmann::json> read_model_config(const std::filesystem::path& path) {
  const auto file = std::filesystem::is_directory(path) ? path / "config.json" : path;
  if (!std::filesystem::exists(file)) return std::nullopt;
  auto j = read_json_file(file);
  if (!j.is_object()) throw InputError(file.string(), "config is not a JSON object");
  return j;
}

std::vector<SubConfig> nested_configs(const nlohmann::json& config) {
  std::vector<SubConfig> out;
  if (!config.is_object()) return out;
  for (auto it = config.begin(); it != config.end(); ++it) {
    const auto& k = it.key();
    if (k.size() < 7 || k.compare(k.size() - 7, 7, "_config") != 0) continue;
    const auto& v = it.value();
    if (!v.is_object()) continue;
    if (v.contains("model_type") || v.contains("hidden_size") || v.contains("num_hidden_layers") ||
        v.contains("d_model")) {
      out.push_back({k, &v});
    }
  }
  return out;
}

}  // namespace lineage::io
