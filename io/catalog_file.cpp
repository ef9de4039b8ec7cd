#include "io/catalog_file.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "core/errors.hpp"
#include "io/detail/yaml_reader.hpp"

namespace lineage::io {
namespace {

/// YAML → JSON with YAML 1.2 core-schema scalars: plain true/false/null/numbers are typed,
/// quoted scalars stay strings (so "1e6" in quotes is text, 1e6 plain is a number).
nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      auto a = nlohmann::json::array();
      for (const auto& item : node) a.push_back(to_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      auto o = nlohmann::json::object();
      for (const auto& kv : node) o[kv.first.as<std::string>()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const auto& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted
  static const std::regex integer(R"([-+]?[0-9]+)");
  static const std::regex real(R"([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  if (std::regex_match(s, integer)) return std::stoll(s);
  if (std::regex_match(s, real)) return std::stod(s);
  return s;
}

}  // namespace

CatalogEntry read_catalog_entry(const std::filesystem::path& path) {
  const detail::YamlReader reader(path);
  const auto root = reader.load("cannot read the catalogue entry");
  if (!root.IsMap()) throw ConfigError(path.string(), "a catalogue entry must be a mapping");
  reader.reject_unknown_keys(root, "", {"config", "confirmed", "model", "notes", "source", "sources", "unconfirmed"});
  CatalogEntry e;
  e.file = path.string();
  try {
    if (!root["model"] || !root["source"] || !root["config"] || !root["confirmed"]) {
      throw ConfigError(path.string(), "needs model, source, confirmed and config");
    }
    e.model = root["model"].as<std::string>();
    e.source = root["source"].as<std::string>();
    e.confirmed = root["confirmed"].as<bool>();
    if (root["unconfirmed"]) e.unconfirmed = root["unconfirmed"].as<std::vector<std::string>>();
    if (root["notes"]) e.notes = root["notes"].as<std::string>();
    if (root["sources"]) e.sources = root["sources"].as<std::map<std::string, std::string>>();
  } catch (const YAML::Exception& x) {
    throw ConfigError(path.string(), std::string("wrong type: ") + x.what());
  }
  e.config = to_json(root["config"]);
  if (!e.config.is_object()) throw ConfigError(path.string() + ":config", "must be a mapping");
  if (!e.confirmed && e.unconfirmed.empty() && e.notes.empty()) {
    throw ConfigError(path.string(), "an unconfirmed entry must say what is in doubt (unconfirmed: or notes:)");
  }
  // A key in doubt is dropped from the config it is compared with, so it can never match.
  auto has_key = [&](const std::string& k) {
    if (e.config.contains(k)) return true;
    if (const auto dot = k.find('.'); dot != std::string::npos) {  // text_config.attention_multiplier
      const auto outer = k.substr(0, dot);
      return e.config.contains(outer) && e.config[outer].is_object() && e.config[outer].contains(k.substr(dot + 1));
    }
    for (const auto& [name, sub] : e.config.items()) {
      if (sub.is_object() && sub.contains(k)) return true;  // text_config and other nested configs
    }
    return false;
  };
  for (const auto& k : e.unconfirmed) {
    if (!has_key(k)) {
      throw ConfigError(path.string() + ":unconfirmed", "'" + k + "' is not a key of config");
    }
  }
  // A key's own source must name a key of config (a typo would leave the value unsourced).
  for (const auto& [k, src] : e.sources) {
    if (!has_key(k)) throw ConfigError(path.string() + ":sources", "'" + k + "' is not a key of config");
    if (src.empty()) throw ConfigError(path.string() + ":sources." + k, "is empty");
  }
  return e;
}

std::vector<CatalogEntry> load_catalog(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw ConfigError(dir.string(), "catalogue folder not found");
  std::vector<std::filesystem::path> files;
  for (const auto& d : std::filesystem::directory_iterator(dir)) {
    if (d.path().extension() == ".yaml") files.push_back(d.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw ConfigError(dir.string(), "catalogue folder has no *.yaml entries");
  std::vector<CatalogEntry> out;
  out.reserve(files.size());
  for (const auto& f : files) out.push_back(read_catalog_entry(f));
  return out;
}

void exclude_models(std::vector<CatalogEntry>& entries, const std::vector<std::string>& models) {
  for (const auto& name : models) {
    const auto before = entries.size();
    entries.erase(
        std::remove_if(entries.begin(), entries.end(), [&](const CatalogEntry& e) { return e.model == name; }),
        entries.end());
    if (entries.size() == before) throw UsageError("--exclude " + name + ": no catalogue entry has this model");
  }
  if (entries.empty()) throw UsageError("--exclude: nothing left in the catalogue");
}

}  // namespace lineage::io
