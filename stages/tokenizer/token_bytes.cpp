#include "stages/tokenizer/token_bytes.hpp"

#include <array>

namespace lineage::stages {
namespace {

/// GPT-2 bytes_to_unicode, inverted: code point -> byte (-1: not in the alphabet).
const std::array<int, 512>& byte_of_codepoint() {
  static const auto table = [] {
    std::array<int, 512> t{};
    t.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[static_cast<std::size_t>(printable ? b : 256 + extra++)] = b;
    }
    return t;
  }();
  return table;
}

/// Next UTF-8 code point of s at i (advances i); invalid bytes come back as themselves.
std::uint32_t next_codepoint(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  if (i + static_cast<std::size_t>(len) > s.size()) len = 1;
  std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3Fu);
  i += static_cast<std::size_t>(len);
  return cp;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string token_bytes(std::string_view token, io::TokenEncoding encoding) {
  std::string out;
  out.reserve(token.size());
  switch (encoding) {
    case io::TokenEncoding::byte_level: {
      const auto& table = byte_of_codepoint();
      for (std::size_t i = 0; i < token.size();) {
        const auto start = i;
        const auto cp = next_codepoint(token, i);
        if (cp < table.size() && table[cp] >= 0) {
          out += static_cast<char>(table[cp]);
        } else {
          out.append(token.substr(start, i - start));  // not in the alphabet: keep as written
        }
      }
      return out;
    }
    case io::TokenEncoding::sentencepiece: {
      if (token.size() == 6 && token.substr(0, 3) == "<0x" && token[5] == '>' && hex(token[3]) >= 0 &&
          hex(token[4]) >= 0) {
        out += static_cast<char>(hex(token[3]) * 16 + hex(token[4]));
        return out;
      }
      for (std::size_t i = 0; i < token.size();) {
        if (token.compare(i, 3, "\xE2\x96\x81") == 0) {
          out += ' ';
          i += 3;
        } else {
          out += token[i++];
        }
      }
      return out;
    }
    case io::TokenEncoding::plain:
      return std::string(token);
  }
  return std::string(token);
}

}  // namespace lineage::stages
