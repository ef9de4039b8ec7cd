#include "io/checkpoint_listing.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "io/model_source.hpp"
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
  const auto source = open_local_model(model_dir);
  return list_checkpoint(*source, index_only);
}

TensorListing list_checkpoint(ModelSource& source, bool index_only) {
  TensorListing out;
  out.model_dir = source.location();
  out.index_only = index_only;
  source.check_folder();
  const auto index_path = source.where(kIndexFileName);
  const auto index_text = source.read_file(kIndexFileName);
  if (!index_text) {
    std::optional<SafetensorsHeader> single;
    if (!index_only) single = read_safetensors_header(source, kSingleFileName);
    if (!single && !source.exists(kSingleFileName)) {
      throw InputError(source.location(),
                       std::string("no ") + kSingleFileName + " or " + kIndexFileName + " in the folder");
    }
    out.shard_files = {kSingleFileName};
    if (index_only) {
      throw InputError(source.location(), "--index-only needs model.safetensors.index.json");
    }
    if (!single) throw InputError(source.where(kSingleFileName), "vanished while the folder was read");
    add_header(out, *single, kSingleFileName);
    return out;
  }
  // not ordered_json: its insert is linear, quadratic on 100k names. The one depth-limited
  // parser (io/json_text.hpp), for a local and a remote index alike.
  const nlohmann::json index = parse_json_text(*index_text, index_path);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw InputError(index_path, "no weight_map object");
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
      throw InputError(index_path, "weight_map value is not a file name", it.key());
    }
    const auto file = it.value().get<std::string>();
    // Few distinct shard names: check each once (the check touches the file system).
    // (A local source resolves the name: inside the folder or the Hugging Face cache's blobs.)
    if (files.insert(file).second) source.check_name(file, index_path);
    entries.emplace_back(it.key(), file);
  }
  out.shard_files.assign(files.begin(), files.end());
  if (index_only) {
    for (auto& [name, file] : entries) out.tensors.push_back({name, file, std::nullopt, std::nullopt, 0, 0});
    return out;
  }
  std::map<std::string, SafetensorsHeader> headers;
  for (const auto& file : files) {
    auto h = read_safetensors_header(source, file);
    if (!h) throw InputError(index_path, "shard '" + file + "' is missing");
    headers.emplace(file, std::move(*h));
  }
  // Per shard, name -> entry: one hash probe per index entry (a linear find would be quadratic).
  // Views into `headers` and `entries`, which outlive the maps: no key is copied or concatenated.
  std::map<std::string_view, std::unordered_map<std::string_view, const SafetensorsEntry*>> by_name;
  for (const auto& [file, h] : headers) {
    auto& names = by_name[file];
    names.reserve(h.tensors.size());
    for (const auto& e : h.tensors) names.emplace(e.name, &e);
  }
  std::unordered_set<std::string_view> indexed;
  indexed.reserve(entries.size());
  out.tensors.reserve(entries.size());
  for (const auto& [name, file] : entries) {
    const auto& names = by_name.find(file)->second;  // every index file has a header (read above)
    const auto it = names.find(name);
    if (it == names.end()) {
      throw InputError(source.where(file), "named by the index but not present in this shard", name);
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

std::vector<std::string> incomplete_download(const fs::path& model_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(model_dir, ec)) {
    if (e.path().extension() == ".part")
      out.push_back(e.path().string() + ": a partial download (rerun lineage fetch)");
  }
  std::sort(out.begin(), out.end());
  const auto source = open_local_model(model_dir);
  std::set<std::string> shards;
  // An unreadable, escaping or malformed index, or a shard name leaving the folder, is not a
  // download problem: list_checkpoint reports it (after this check) with its own message.
  try {
    if (const auto text = source->read_file(kIndexFileName)) {
      const auto index = parse_json_text(*text, source->where(kIndexFileName));
      if (index.is_object() && index.contains("weight_map") && index["weight_map"].is_object()) {
        for (const auto& [name, file] : index["weight_map"].items()) {
          if (!file.is_string()) continue;
          try {
            source->check_name(file.get<std::string>(), source->where(kIndexFileName));
            shards.insert(file.get<std::string>());
          } catch (const InputError&) {
            continue;  // list_checkpoint refuses the name
          }
        }
      }
    } else if (source->exists(kSingleFileName)) {
      shards.insert(kSingleFileName);
    }
  } catch (const InputError&) {
    return out;
  }
  for (const auto& file : shards) {
    if (!source->exists(file)) {
      out.push_back(source->where(file) + ": named by the index but missing");
      continue;
    }
    try {
      const auto h = read_safetensors_header(*source, file);
      if (h && h->file_size < implied_file_size(*h)) {
        out.push_back(source->where(file) + ": " + std::to_string(h->file_size) + " bytes, its header implies " +
                      std::to_string(implied_file_size(*h)));
      }
    } catch (const InputError& e) {
      out.push_back(std::string(e.what()));
    }
  }
  return out;
}

}  // namespace lineage::io
