#include "io/model_fetch.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/hf_config.hpp"
#include "io/http_client.hpp"
#include "io/http_download.hpp"
#include "io/json_text.hpp"
#include "io/safetensors_header.hpp"

namespace lineage::io {
namespace {

namespace fs = std::filesystem;

/// The digest in a `<file>.sha256` sidecar: its first word, 64 hex digits (sha256sum's format).
std::optional<std::string> sidecar_digest(ModelSource& source, const std::string& file) {
  const auto text = source.read_file(file + ".sha256");
  if (!text) return std::nullopt;
  std::string word;
  for (const char c : *text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!word.empty()) break;
      continue;
    }
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (word.size() != 64 || !std::all_of(word.begin(), word.end(), [](unsigned char c) { return std::isxdigit(c); })) {
    throw InputError(source.where(file + ".sha256"), "not a SHA-256 digest (64 hex digits first)");
  }
  return word;
}

FetchedFile fetch_shard(ModelSource& source, HttpClient& client, const std::string& file, const fs::path& dir) {
  const auto header = read_safetensors_header(source, file);
  if (!header) throw InputError(source.where(file), "shard named by the index is not on the server");
  const auto implied = implied_file_size(*header);
  if (implied != header->file_size) {
    throw InputError(source.where(file), "the server gives the file as " + std::to_string(header->file_size) +
                                             " bytes, its header implies " + std::to_string(implied));
  }
  const auto target = dir / file;
  fs::create_directories(target.parent_path());
  const auto r = download_file(client, {source.where(file), target, implied, sidecar_digest(source, file)});
  return {file, r.size, r.received, r.resumed_at, r.already_complete, r.sha256_checked};
}

}  // namespace

std::vector<FetchedFile> fetch_model(const std::string& location, const fs::path& dir, const FetchOptions& options) {
  if (!is_remote_location(location)) throw InputError(location, "not a remote location (http://, https://, hf://)");
  const auto source = open_model(location, options.remote);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw InputError(dir.string(), "cannot create the folder: " + ec.message());

  std::vector<FetchedFile> done;
  std::mutex mutex;
  const auto report = [&](FetchedFile f) {
    const std::lock_guard lock(mutex);
    if (options.on_file) options.on_file(f);
    done.push_back(std::move(f));
  };

  // Small files first (each written atomically), the index last among them.
  std::vector<std::string> shards;
  const auto index_text = source->read_file(kIndexFileName);
  if (index_text) {
    const auto index = parse_json_text(*index_text, source->where(kIndexFileName));
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw InputError(source->where(kIndexFileName), "no weight_map object");
    }
    std::set<std::string> files;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string())
        throw InputError(source->where(kIndexFileName), "weight_map value is not a file name", name);
      const auto f = file.get<std::string>();
      source->check_name(f, source->where(kIndexFileName));  // also where it is written in DIR
      files.insert(f);
    }
    shards.assign(files.begin(), files.end());
  } else if (source->exists(kSingleFileName)) {
    shards = {kSingleFileName};
  } else {
    throw InputError(source->location(), std::string("no ") + kSingleFileName + " or " + kIndexFileName + " there");
  }
  for (const auto& file : kModelSideFiles) {
    if (const auto text = source->read_file(file)) {
      write_text_file(dir / file, *text);
      report({file, text->size(), text->size(), 0, false, {}});
    }
  }
  if (index_text) {
    write_text_file(dir / kIndexFileName, *index_text);
    report({kIndexFileName, index_text->size(), index_text->size(), 0, false, {}});
  }

  // Shards, `parallel_files` at a time, each worker with its own connection.
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr first_error;
  const auto worker = [&] {
    try {
      const auto own = open_model(location, options.remote);
      HttpClient client(options.remote);
      for (std::size_t i; !stop && (i = next++) < shards.size();) report(fetch_shard(*own, client, shards[i], dir));
    } catch (...) {
      const std::lock_guard lock(mutex);
      if (!first_error) first_error = std::current_exception();
      stop = true;
    }
  };
  const auto n = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, options.parallel_files)), 1,
                                         std::max<std::size_t>(1, shards.size()));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
  return done;
}

}  // namespace lineage::io
