#pragma once
/// @file http_source.hpp
/// A remote model folder read with HTTP GET and range requests (see model_source.hpp).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "io/http_client.hpp"
#include "io/json_text.hpp"
#include "io/model_source.hpp"

namespace lineage::io {

/// Largest whole file read into memory from a remote folder (config.json, index, tokenizer).
inline constexpr std::uint64_t kMaxRemoteSmallFile = kMaxJsonFileBytes;  // as for a local file

/// `location` is an http(s):// or hf:// location (model_source.hpp).
[[nodiscard]] std::unique_ptr<ModelSource> open_http_model(const std::string& location, const RemoteOptions& options);

/// What a server's answer to a GET of bytes [offset, offset + length) of `url` means: nullopt
/// when the file is absent (404, 410); the bytes, with `total_size` set (empty at or past the
/// end: 416 with the total); otherwise an InputError (no range support, an error status, a
/// Content-Range that does not match the request, a body of the wrong length). Pure, so the
/// parsing of what a server sends can be fuzzed (tests/fuzz/fuzz_http_response.cpp).
[[nodiscard]] std::optional<std::string> range_answer(HttpResponse r, const std::string& url, std::uint64_t offset,
                                                      std::uint64_t length, std::uint64_t& total_size);

}  // namespace lineage::io
