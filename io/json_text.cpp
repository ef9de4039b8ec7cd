#include "io/json_text.hpp"

#include <optional>

#include "core/errors.hpp"

namespace lineage::io {

std::optional<std::uint64_t> json_too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

std::string json_error_without_content(const std::string& what) {
  std::string s = what;
  if (const auto b = s.find("] "); s.rfind("[json.exception", 0) == 0 && b != std::string::npos) s = s.substr(b + 2);
  if (const auto l = s.find("; last read:"); l != std::string::npos) s = s.substr(0, l);
  return s;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& file, std::uint64_t base_offset) {
  if (const auto at = json_too_deep(text)) {
    throw InputError(file, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", {},
                     base_offset + *at);
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, "malformed JSON: " + json_error_without_content(e.what()), {},
                     base_offset + (e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::exception&) {
    // The parser's other errors (406: a number beyond double's range) quote the text they
    // stopped at; the file's contents are never echoed, so say what it was without it.
    throw InputError(file, "malformed JSON: a number too large to represent", {}, base_offset);
  }
}

}  // namespace lineage::io
