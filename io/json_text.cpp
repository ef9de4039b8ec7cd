#include "io/json_text.hpp"

#include <optional>

#include "core/errors.hpp"

namespace lineage::io {

void append_json_object(SpilledText& out, const nlohmann::json& object,
                        const std::map<std::string, JsonValueWriter>& written) {
  if (!object.is_object()) throw InternalError("append_json_object: not a JSON object");
  for (const auto& [key, write] : written) {
    if (!object.contains(key)) throw InternalError("append_json_object: the object has no key " + key);
  }
  out += '{';
  bool first = true;
  for (const auto& [key, value] : object.items()) {
    if (!first) out += ',';
    first = false;
    out += std::string_view(nlohmann::json(key).dump());
    out += ':';
    if (const auto w = written.find(key); w != written.end()) {
      w->second(out);
    } else {
      out += std::string_view(value.dump());
    }
  }
  out += '}';
}

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

bool JsonSyntaxError::capture(const nlohmann::detail::exception& e) {
  if (const auto* pe = dynamic_cast<const nlohmann::json::parse_error*>(&e)) {
    byte_ = pe->byte;
    text_ = pe->what();
  } else {
    // The parser's other error (406: a number beyond double's range) quotes the text it
    // stopped at; the file's contents are never echoed, so reason() says what it was without it.
    number_out_of_range_ = true;
  }
  return false;
}

std::string JsonSyntaxError::reason(std::string_view subject) const {
  const std::string head = "malformed " + std::string(subject) + ": ";
  if (number_out_of_range_) return head + "a number too large to represent";
  return head + json_error_without_content(text_);
}

std::uint64_t JsonSyntaxError::offset() const noexcept {
  if (number_out_of_range_) return 0;
  const auto byte = byte_.value_or(0);
  return byte > 0 ? byte - 1 : 0;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& file, std::uint64_t base_offset) {
  if (const auto at = json_too_deep(text)) {
    throw InputError(file, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", {},
                     base_offset + *at);
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    JsonSyntaxError error;
    error.capture(e);
    throw InputError(file, error.reason(), {}, base_offset + error.offset());
  }
}

}  // namespace lineage::io
