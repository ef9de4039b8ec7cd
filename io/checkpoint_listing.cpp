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
#include "io/json_text.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors_header.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

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
  std::error_code ec;
  // symlink_status: a dangling link is present (and refused when resolved), not absent.
  const auto present = [&](const char* name) { return fs::exists(fs::symlink_status(model_dir / name, ec)); };
  if (!present(kIndexFileName)) {
    if (!present(kSingleFileName)) {
      throw InputError(model_dir.string(),
                       std::string("no ") + kSingleFileName + " or " + kIndexFileName + " in the folder");
    }
    out.shard_files = {kSingleFileName};
    if (index_only) {
      throw InputError(model_dir.string(), "--index-only needs model.safetensors.index.json");
    }
    add_header(out, read_safetensors_header(resolve_in_model_folder(model_dir, kSingleFileName, model_dir)),
               kSingleFileName);
    return out;
  }
  const auto index_path = model_dir / kIndexFileName;
  // not ordered_json: its insert is linear, quadratic on 100k names
  const nlohmann::json index = parse_json_text(
      read_regular_file(resolve_in_model_folder(model_dir, kIndexFileName, model_dir), kMaxJsonFileBytes),
      index_path.string());
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
    if (files.insert(file).second) (void)resolve_in_model_folder(model_dir, file, index_path);
    entries.emplace_back(it.key(), file);
  }
  out.shard_files.assign(files.begin(), files.end());
  if (index_only) {
    for (auto& [name, file] : entries) out.tensors.push_back({name, file, std::nullopt, std::nullopt, 0, 0});
    return out;
  }
  std::map<std::string, SafetensorsHeader> headers;
  for (const auto& file : files) {
    const auto p = resolve_in_model_folder(model_dir, file, index_path);
    if (!fs::exists(fs::symlink_status(model_dir / file, ec))) {
      throw InputError(index_path.string(), "shard '" + file + "' is missing");
    }
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
