#pragma once
/// @file model_fetch.hpp
/// Downloads a remote checkpoint folder (lineage fetch): config.json, tokenizer files, the index,
/// then the shards, several at once, each through download_file (resumable `.part` files,
/// sizes checked against the safetensors header, SHA-256 where the server publishes one).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/model_source.hpp"

namespace lineage::io {

/// Small files copied when the server has them (config.json is optional too).
inline const std::vector<std::string> kModelSideFiles = {"config.json",
                                                         "generation_config.json",
                                                         "tokenizer.json",
                                                         "tokenizer_config.json",
                                                         "special_tokens_map.json",
                                                         "tokenizer.model",
                                                         "vocab.json",
                                                         "merges.txt",
                                                         "added_tokens.json",
                                                         "chat_template.jinja"};

struct FetchedFile {
  std::string file;
  std::uint64_t size = 0;
  std::uint64_t received = 0;
  std::uint64_t resumed_at = 0;
  bool already_complete = false;
  std::string sha256;  ///< verified digest, empty when none was published
};

struct FetchOptions {
  RemoteOptions remote;
  int parallel_files = 4;
  /// Called (from worker threads, one call at a time) as each file is done.
  std::function<void(const FetchedFile&)> on_file;
};

/// Throws InputError (naming the URL or file) on the first failure; shards still downloading in
/// other workers stop at their next retry point, keeping their `.part` files for a rerun.
std::vector<FetchedFile> fetch_model(const std::string& location, const std::filesystem::path& dir,
                                     const FetchOptions& options);

}  // namespace lineage::io
