#include "io/detail/yaml_reader.hpp"

#include <algorithm>

namespace lineage::io::detail {

YAML::Node YamlReader::load(const std::string& cannot_read) const {
  try {
    return YAML::LoadFile(file_.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(file_.string(), cannot_read);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file_.string() + ":" + std::to_string(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
}

ConfigError YamlReader::error(const std::string& key_path, const std::string& reason) const {
  return ConfigError(file_.string() + ":" + key_path, reason);
}

std::string YamlReader::join(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}

void YamlReader::reject_unknown_keys(const YAML::Node& node, const std::string& where,
                                     const std::vector<std::string>& known, const std::string& top_level) const {
  const auto& here = where.empty() ? top_level : where;
  if (!node.IsMap()) throw error(here, "must be a mapping");
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) throw error(here, "has a key that is not a name");
    const auto key = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw error(join(where, key), "unknown key (known: " + list + ")");
    }
  }
}

}  // namespace lineage::io::detail
