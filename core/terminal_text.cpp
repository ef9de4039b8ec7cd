#include "core/terminal_text.hpp"

namespace lineage {
namespace {

void escape_byte(std::string& out, unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xf];
}

}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b == 0x7f) {
      escape_byte(out, b);
    } else if (b == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      escape_byte(out, b);  // U+0080..U+009F: C1 controls
      escape_byte(out, static_cast<unsigned char>(text[++i]));
    } else {
      out += static_cast<char>(b);
    }
  }
  return out;
}

}  // namespace lineage
