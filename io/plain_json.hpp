#pragma once
/// @file plain_json.hpp
/// A fast reading of the plain JSON that safetensors headers and checkpoint indexes are made of,
/// for the one-pass readers of both (100k-tensor checkpoints hold megabytes of it, and nlohmann's
/// lexer was about 15% of `lineage plan`). It reads ASCII strings without escapes, non-negative
/// integers below 10^19, true/false/null, objects and arrays, and gives a SAX reader exactly the
/// events nlohmann::json::sax_parse gives for the same text. Anything else (an escape, a byte
/// outside printable ASCII in a string, a negative or fractional number, a syntax error, a reader
/// that stops) ends it with false: the caller then reads the text again with a fresh reader
/// through nlohmann, which says what is wrong (or reads it) as before.

#include <nlohmann/json.hpp>
#include <string_view>

namespace lineage::io {

/// Feeds `text` to `sax` if the text is plain JSON (see above); false otherwise, after any
/// number of events: `sax` must then be discarded.
[[nodiscard]] bool sax_parse_plain_json(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax);

}  // namespace lineage::io
