#include "io/plain_json.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lineage::io {
namespace {

/// Bytes a plain string holds verbatim: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> kPlainStringByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

class PlainReader {
 public:
  PlainReader(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax) : s_(text), sax_(sax) {}

  bool run() {
    // An explicit stack of open containers (true: object), so no input nests the C++ stack.
    std::vector<bool> open;
    skip_space();
    if (!value(open)) return false;
    while (!open.empty()) {
      if (first_value_) {  // a container just opened: its first value
        first_value_ = false;
        if (!value(open)) return false;
        continue;
      }
      skip_space();
      if (at_end()) return false;
      const char c = s_[i_];
      const bool object = open.back();
      if (c == (object ? '}' : ']')) {
        ++i_;
        open.pop_back();
        if (!(object ? sax_.end_object() : sax_.end_array())) return false;
        continue;
      }
      if (c != ',') return false;
      ++i_;
      skip_space();
      if (object && !key()) return false;
      if (!value(open)) return false;
    }
    skip_space();
    return at_end();
  }

 private:
  [[nodiscard]] bool at_end() const { return i_ >= s_.size(); }

  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }

  /// A string at the cursor into buf_ (the cursor is past its closing quote).
  bool string() {
    if (at_end() || s_[i_] != '"') return false;
    const std::size_t begin = ++i_;
    while (i_ < s_.size() && kPlainStringByte[static_cast<unsigned char>(s_[i_])]) ++i_;
    if (at_end() || s_[i_] != '"') return false;  // an escape, a control or non-ASCII byte, or the end
    buf_.assign(s_.data() + begin, i_ - begin);
    ++i_;
    return true;
  }

  /// `"name":` at the cursor, given to the reader.
  bool key() {
    if (!string() || !sax_.key(buf_)) return false;
    skip_space();
    if (at_end() || s_[i_] != ':') return false;
    ++i_;
    skip_space();
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }

  /// One value at the cursor. A container is opened and left on `open` with its first key read
  /// and first_value_ set (run reads its values in its loop, not by recursion); its empty form is
  /// read whole.
  bool value(std::vector<bool>& open) {
    if (at_end()) return false;
    const char c = s_[i_];
    if (c == '{' || c == '[') {
      const bool object = c == '{';
      ++i_;
      if (!(object ? sax_.start_object(static_cast<std::size_t>(-1)) : sax_.start_array(static_cast<std::size_t>(-1))))
        return false;
      skip_space();
      if (!at_end() && s_[i_] == (object ? '}' : ']')) {
        ++i_;
        return object ? sax_.end_object() : sax_.end_array();
      }
      open.push_back(object);
      first_value_ = true;
      return !object || key();
    }
    if (c == '"') return string() && sax_.string(buf_);
    if (c >= '0' && c <= '9') {
      // At most 19 digits always fit in 64 bits; "0" starts no longer number (JSON has no
      // leading zeros), and a fraction or exponent makes a float: those go to nlohmann.
      const std::size_t begin = i_;
      std::uint64_t v = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') v = v * 10 + static_cast<std::uint64_t>(s_[i_++] - '0');
      const std::size_t digits = i_ - begin;
      if (digits > 19 || (digits > 1 && s_[begin] == '0')) return false;
      if (!at_end() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
      return sax_.number_unsigned(v);
    }
    if (c == 't') return literal("true") && sax_.boolean(true);
    if (c == 'f') return literal("false") && sax_.boolean(false);
    if (c == 'n') return literal("null") && sax_.null();
    return false;
  }

  std::string_view s_;
  nlohmann::json_sax<nlohmann::json>& sax_;
  std::size_t i_ = 0;
  bool first_value_ = false;
  std::string buf_;  ///< the string or key just read (nlohmann too passes its token buffer)
};

}  // namespace

bool sax_parse_plain_json(std::string_view text, nlohmann::json_sax<nlohmann::json>& sax) {
  return PlainReader(text, sax).run();
}

}  // namespace lineage::io
