#include "io/checkpoint_listing.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/errors.hpp"
#include "io/safetensors_header.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string(), "cannot read file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Rejects shard names that would read outside the model folder.
void check_inside(const fs::path& dir, const fs::path& index, const std::string& file, const std::string& tensor) {
  const fs::path rel(file);
  bool bad = file.empty() || rel.is_absolute();
  for (const auto& part : rel) bad = bad || part == "..";
  if (!bad) {
    std::error_code ec;
    const auto root = fs::weakly_canonical(dir, ec);
    const auto target = fs::weakly_canonical(dir / rel, ec);
    const auto r = root.string() + "/";
    bad = target.string().rfind(r, 0) != 0;  // e.g. a symlink pointing elsewhere
  }
  if (bad) throw InputError(index.string(), "shard path '" + file + "' escapes the model folder", tensor);
}

void add_header(TensorListing& out, const SafetensorsHeader& h, const std::string& file) {
  for (const auto& e : h.tensors) {
    out.tensors.push_back({e.name, file, e.dtype, e.shape, e.data_begin, e.data_end});
  }
}

}  // namespace

TensorListing list_checkpoint(const fs::path& model_dir, bool index_only) {
  TensorListing out;
  out.model_dir = model_dir.string();
  out.index_only = index_only;
  if (!fs::is_directory(model_dir)) throw InputError(model_dir.string(), "not a folder");
  const auto index_path = model_dir / kIndexFileName;
  if (!fs::exists(index_path)) {
    const auto single = model_dir / kSingleFileName;
    if (!fs::exists(single)) {
      throw InputError(model_dir.string(),
                       std::string("no ") + kSingleFileName + " or " + kIndexFileName + " in the folder");
    }
    out.shard_files = {kSingleFileName};
    if (index_only) {
      throw InputError(model_dir.string(), "--index-only needs model.safetensors.index.json");
    }
    add_header(out, read_safetensors_header(single), kSingleFileName);
    return out;
  }

  const auto text = read_all(index_path);
  nlohmann::json index;  // not ordered_json: its insert is linear, quadratic on 100k names
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(index_path.string(), std::string("malformed JSON: ") + e.what(), {}, e.byte > 0 ? e.byte - 1 : 0);
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw InputError(index_path.string(), "no weight_map object");
  }
  if (index.contains("metadata") && index["metadata"].is_object()) {
    const auto& m = index["metadata"];
    auto number = [&](const char* key) -> std::optional<std::uint64_t> {
      if (!m.contains(key)) return std::nullopt;
      if (m[key].is_number_unsigned()) return m[key].get<std::uint64_t>();
      if (m[key].is_string()) {
        try {
          return std::stoull(m[key].get<std::string>());
        } catch (...) {
          return std::nullopt;
        }
      }
      return std::nullopt;
    };
    out.index_total_size = number("total_size");
    out.index_total_parameters = number("total_parameters");
  }
  std::vector<std::pair<std::string, std::string>> entries;  // name, file
  std::set<std::string> files;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string()) {
      throw InputError(index_path.string(), "weight_map value is not a file name", it.key());
    }
    const auto file = it.value().get<std::string>();
    // Few distinct shard names: check each once (the check touches the file system).
    if (files.insert(file).second) check_inside(model_dir, index_path, file, it.key());
    entries.emplace_back(it.key(), file);
  }
  out.shard_files.assign(files.begin(), files.end());
  if (index_only) {
    for (auto& [name, file] : entries) out.tensors.push_back({name, file, std::nullopt, std::nullopt, 0, 0});
    return out;
  }
  std::map<std::string, SafetensorsHeader> headers;
  for (const auto& file : files) {
    const auto p = model_dir / file;
    if (!fs::exists(p)) throw InputError(index_path.string(), "shard '" + file + "' is missing");
    headers.emplace(file, read_safetensors_header(p));
  }
  // (file, name) -> entry: one hash probe per index entry (a linear find would be quadratic).
  std::unordered_map<std::string, const SafetensorsEntry*> by_key;
  for (const auto& [file, h] : headers) {
    for (const auto& e : h.tensors) by_key.emplace(file + '\n' + e.name, &e);
  }
  std::unordered_set<std::string> indexed;
  indexed.reserve(entries.size());
  for (const auto& [name, file] : entries) {
    const auto it = by_key.find(file + '\n' + name);
    if (it == by_key.end()) {
      throw InputError((model_dir / file).string(), "named by the index but not present in this shard", name);
    }
    const auto* e = it->second;
    out.tensors.push_back({name, file, e->dtype, e->shape, e->data_begin, e->data_end});
    indexed.insert(name);
  }
  for (const auto& [file, h] : headers) {
    for (const auto& e : h.tensors) {
      if (!indexed.count(e.name)) out.unindexed.push_back(file + ":" + e.name);
    }
  }
  return out;
}

}  // namespace lineage::io
