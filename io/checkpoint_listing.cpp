#include "io/checkpoint_listing.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/errors.hpp"
#include "io/model_source.hpp"
#include "io/safetensors_header.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

void add_header(TensorListing& out, const SafetensorsHeader& h, const std::string& file) {
  const SharedName shared_file(file);
  for (const auto& e : h.tensors) {
    out.tensors.push_back({e.name, shared_file, e.dtype, e.shape, e.data_begin, e.data_end});
  }
}

}  // namespace

TensorListing list_checkpoint(const fs::path& model_dir, bool index_only) {
  const auto source = open_local_model(model_dir);
  return list_checkpoint(*source, index_only);
}

TensorListing list_checkpoint(ModelSource& source, bool index_only) {
  source.check_folder();
  return list_checkpoint(source, index_only, read_checkpoint_index(source));
}

TensorListing list_checkpoint(ModelSource& source, bool index_only, const std::optional<CheckpointIndex>& index) {
  TensorListing out;
  out.model_dir = source.location();
  out.index_only = index_only;
  if (!index) {
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
  const auto& index_path = index->where;
  out.index_total_size = index->total_size;
  out.index_total_parameters = index->total_parameters;
  std::vector<std::pair<std::string_view, std::string_view>> entries;  // name, file: views into `index`
  entries.reserve(index->entries.size());
  std::set<std::string> files;
  for (const auto& [name, file] : index->entries) {
    if (!file) throw InputError(index_path, "weight_map value is not a file name", name);
    // Few distinct shard names: check each once (the check touches the file system).
    // (A local source resolves the name: inside the folder or the Hugging Face cache's blobs.)
    if (files.insert(*file).second) source.check_name(*file, index_path);
    entries.emplace_back(name, *file);
  }
  out.shard_files.assign(files.begin(), files.end());
  // One shared name per shard file, not a string per tensor (100k of them, copied again by the
  // inventory and the units).
  std::map<std::string_view, SharedName> shared_files;
  for (const auto& file : files) shared_files.emplace(file, SharedName(file));
  if (index_only) {
    for (const auto& [name, file] : entries) {
      out.tensors.push_back({std::string(name), shared_files.at(file), std::nullopt, std::nullopt, 0, 0});
    }
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
  std::map<std::string_view, std::unordered_map<std::string_view, SafetensorsEntry*>> by_name;
  for (auto& [file, h] : headers) {
    auto& names = by_name[file];
    names.reserve(h.tensors.size());
    for (auto& e : h.tensors) names.emplace(e.name, &e);
  }
  std::map<std::string_view, std::size_t> matched;  // per shard, the index entries found in it
  out.tensors.reserve(entries.size());
  for (const auto& [name, file] : entries) {
    const auto& names = by_name.find(file)->second;  // every index file has a header (read above)
    ++matched[file];
    const auto it = names.find(name);
    if (it == names.end()) {
      throw InputError(source.where(std::string(file)), "named by the index but not present in this shard",
                       std::string(name));
    }
    auto* e = it->second;
    // The shape is moved: the headers are read here for the listing only (names stay, for the
    // unindexed check below and as the maps' keys).
    out.tensors.push_back(
        {std::string(name), shared_files.at(file), e->dtype, std::move(e->shape), e->data_begin, e->data_end});
  }
  // Names are unique in an index and in a header: a shard with as many index entries as tensors
  // has none unindexed, and only the others are searched.
  for (const auto& [file, h] : headers) {
    if (matched[file] == h.tensors.size()) continue;
    std::unordered_set<std::string_view> indexed;
    for (const auto& [name, f] : entries) {
      if (f == file) indexed.insert(name);
    }
    for (const auto& e : h.tensors) {
      if (!indexed.count(e.name)) out.unindexed.push_back(file + ":" + e.name);
    }
  }
  return out;
}

namespace {

/// The folder's `*.part` files (an unfinished `lineage fetch`), sorted.
std::vector<fs::path> partial_downloads(const fs::path& model_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(model_dir, ec)) {
    if (e.path().extension() == ".part") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool has_partial_download(const fs::path& model_dir) { return !partial_downloads(model_dir).empty(); }

std::vector<std::string> incomplete_download(const fs::path& model_dir) {
  std::vector<std::string> out;
  for (const auto& part : partial_downloads(model_dir))
    out.push_back(part.string() + ": a partial download (rerun lineage fetch)");
  const auto source = open_local_model(model_dir);
  std::set<std::string> shards;
  // An unreadable, escaping or malformed index, or a shard name leaving the folder, is not a
  // download problem: list_checkpoint reports it (after this check) with its own message.
  try {
    if (const auto index = read_checkpoint_index(*source)) {
      for (const auto& [name, file] : index->entries) {
        if (!file) continue;
        try {
          source->check_name(*file, index->where);
          shards.insert(*file);
        } catch (const InputError&) {
          continue;  // list_checkpoint refuses the name
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
