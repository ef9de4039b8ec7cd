#include "io/hf_config.hpp"

#include <cmath>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "io/model_folder.hpp"
#include "io/model_source.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

/// Keys that count layers or experts: each one multiplies the tensors a family expands to, so
/// they are bounded here, before anything is allocated for them.
constexpr const char* kLayerKeys[] = {
    "num_hidden_layers",       "n_layer",        "n_layers",       "num_layers", "num_decoder_layers",
    "num_encoder_layers",      "encoder_layers", "decoder_layers", "depth",      "first_k_dense_replace",
    "num_nextn_predict_layers"};
constexpr const char* kExpertKeys[] = {"num_experts",         "n_routed_experts", "num_local_experts",
                                       "moe_num_experts",     "n_shared_experts", "num_shared_experts",
                                       "num_experts_per_tok", "moe_topk",         "num_experts_per_token"};
constexpr const char* kStringKeys[] = {"model_type", "_name_or_path", "torch_dtype"};

void check_count(const std::string& file, const std::string& where, const nlohmann::json& v, std::int64_t limit) {
  if (v.is_null()) return;
  if (!v.is_number()) throw InputError(file, "key '" + where + "' is not a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || d != std::floor(d)) {
    throw InputError(file, "key '" + where + "' is not a non-negative whole number");
  }
  if (d > static_cast<double>(limit)) {
    throw InputError(file, "key '" + where + "' = " + v.dump() + " is above the limit of " + std::to_string(limit) +
                               " (a real model has far fewer)");
  }
}

void check_config(const std::string& file, const nlohmann::json& c, const std::string& prefix, int depth) {
  for (const char* k : kLayerKeys) {
    if (const auto it = c.find(k); it != c.end()) check_count(file, prefix + k, *it, kMaxConfigLayers);
  }
  for (const char* k : kExpertKeys) {
    if (const auto it = c.find(k); it != c.end()) check_count(file, prefix + k, *it, kMaxConfigExperts);
  }
  for (const char* k : kStringKeys) {
    if (const auto it = c.find(k); it != c.end() && !it->is_string() && !it->is_null()) {
      throw InputError(file, "key '" + prefix + k + "' is not a string");
    }
  }
  if (const auto it = c.find("architectures"); it != c.end() && !it->is_null()) {
    if (!it->is_array()) throw InputError(file, "key '" + prefix + "architectures' is not a list");
    for (const auto& a : *it) {
      if (!a.is_string()) throw InputError(file, "key '" + prefix + "architectures' holds a non-string");
    }
  }
  if (const auto it = c.find("quantization_config"); it != c.end() && !it->is_null() && !it->is_object()) {
    throw InputError(file, "key '" + prefix + "quantization_config' is not an object");
  }
  if (depth > 4) return;
  for (auto it = c.begin(); it != c.end(); ++it) {
    if (it.value().is_object()) check_config(file, it.value(), prefix + it.key() + ".", depth + 1);
  }
}

/// A config's checks, the same for a local and a remote one: an object, bounded counts, typed keys.
nlohmann::json checked_config(nlohmann::json j, const std::string& file) {
  if (!j.is_object()) throw InputError(file, "config is not a JSON object");
  check_config(file, j, "", 0);
  return j;
}

}  // namespace

nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json_text(read_regular_file(path, kMaxJsonFileBytes), path.string());
}

std::optional<nlohmann::json> read_model_config(ModelSource& source) {
  // A local source resolves the name inside the folder and reads a regular file only.
  const auto text = source.read_file("config.json");
  if (!text) return std::nullopt;
  const auto where = source.where("config.json");
  return checked_config(parse_json_text(*text, where), where);
}

std::optional<nlohmann::json> read_model_config(const std::filesystem::path& path) {
  std::error_code ec;
  fs::path file = path;
  if (fs::is_directory(path, ec)) {
    // A dangling symlink counts as present (and fails below), not as "no config".
    if (!fs::exists(fs::symlink_status(path / "config.json", ec))) return std::nullopt;
    file = resolve_in_model_folder(path, "config.json", path);
  } else if (!fs::exists(fs::symlink_status(file, ec))) {
    return std::nullopt;
  }
  return checked_config(read_json_file(file), file.string());
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
