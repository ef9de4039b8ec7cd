#pragma once
/// @file utf8.hpp
/// UTF-8 encoding of one code point: what the byte-level tokenizer alphabet (GPT-2's
/// bytes_to_unicode, code points below 0x800) is written with, by synth and by its tests.

#include <cstdint>
#include <string>

namespace lineage {

/// The UTF-8 bytes of a code point of the Basic Multilingual Plane (below 0x10000).
[[nodiscard]] inline std::string utf8_encode(std::uint32_t code_point) {
  std::string s;
  if (code_point < 0x80) {
    s += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    s += static_cast<char>(0xC0 | (code_point >> 6));
    s += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (code_point >> 12));
    s += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return s;
}

}  // namespace lineage
