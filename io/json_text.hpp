#pragma once
/// @file json_text.hpp
/// The reading of JSON from outside (config.json, tokenizer.json, the behaviour outputs' lines,
/// JSON kept in a result store; the index and safetensors headers have one-pass readers of their
/// own, which word their errors through JsonSyntaxError). Nesting is limited before parsing, so no later
/// recursive walk (dump, copy, compare) can overflow the stack, and error messages give the
/// position only: a file's contents (it may be a symlinked secret) are never echoed.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "io/spilled_vector.hpp"

namespace lineage::io {

/// Writes the value of one key of a JSON object straight into the text (append_json_object).
using JsonValueWriter = std::function<void(SpilledText& out)>;

/// Appends `object` as its dump() writes it (compact), except that the values of the keys in
/// `written` are appended by those writers instead: for a document whose large parts are made and
/// written one piece at a time rather than held whole as an nlohmann object (several times its
/// text). Each key of `written` must be one of the object's (its value there is not written):
/// InternalError otherwise. The keys come in the object's order.
void append_json_object(SpilledText& out, const nlohmann::json& object,
                        const std::map<std::string, JsonValueWriter>& written);

/// Deeper nesting than any real config or tokenizer (they stay below 10 levels).
inline constexpr std::size_t kMaxJsonDepth = 64;
/// Largest JSON file read whole (tokenizer.json files of large vocabularies are tens of MB).
inline constexpr std::uint64_t kMaxJsonFileBytes = std::uint64_t{1} << 30;

/// Parses `text`. Throws InputError(file, reason, {}, base_offset + byte) on malformed JSON or
/// nesting deeper than kMaxJsonDepth; the reason never contains the text itself.
[[nodiscard]] nlohmann::json parse_json_text(std::string_view text, const std::string& file,
                                             std::uint64_t base_offset = 0);

/// The byte offset of the first bracket nested deeper than `max_depth`, if any (strings skipped).
[[nodiscard]] std::optional<std::uint64_t> json_too_deep(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

/// nlohmann's parse_error text without the "last read: '...'" excerpt of the input.
[[nodiscard]] std::string json_error_without_content(const std::string& what);

/// Why a parse of JSON stopped, as nlohmann reported it (the exception json::parse throws, or
/// the one a SAX reader's parse_error receives), worded without the input's text. Every reader
/// of outside JSON (parse_json_text, the one-pass index and header readers, the behaviour
/// outputs) says "malformed JSON" through this, alike.
class JsonSyntaxError {
 public:
  /// Keeps what `e` says: a parse_error, or else (the one other error a parse raises, 406) a
  /// number beyond double's range. Returns false: a SAX reader's parse_error returns this to stop.
  bool capture(const nlohmann::detail::exception& e);
  /// "malformed JSON: <what the parser expected>" (`subject` replaces "JSON", e.g. "JSON header").
  [[nodiscard]] std::string reason(std::string_view subject = "JSON") const;
  /// The offset in the text of the byte the parser stopped at; 0 for a number beyond double's
  /// range (json::parse's exception for it carries no position; a SAX reader's position is not
  /// kept, so both readings report it alike).
  [[nodiscard]] std::uint64_t offset() const noexcept;

 private:
  std::optional<std::size_t> byte_;  ///< 1-based, as nlohmann counts
  std::string text_;
  bool number_out_of_range_ = false;
};

}  // namespace lineage::io
