#pragma once
/// @file http_source.hpp
/// A remote model folder read with HTTP GET and range requests (see model_source.hpp).

#include <memory>
#include <string>

#include "io/json_text.hpp"
#include "io/model_source.hpp"

namespace lineage::io {

/// Largest whole file read into memory from a remote folder (config.json, index, tokenizer).
inline constexpr std::uint64_t kMaxRemoteSmallFile = kMaxJsonFileBytes;  // as for a local file

/// `location` is an http(s):// or hf:// location (model_source.hpp).
[[nodiscard]] std::unique_ptr<ModelSource> open_http_model(const std::string& location, const RemoteOptions& options);

}  // namespace lineage::io
