#pragma once
/// @file terminal_control.hpp
/// Which bytes of a text are control codes a terminal acts on: the one rule behind both
/// escapers, core/terminal_text (one string, \xNN, for error messages) and core/terminal_stream
/// (all of standard output, \u00NN for DEL and C1 so JSON stays valid). They differ only in how
/// they write an escape and in whether newline and tab pass.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lineage {

enum class TerminalControlKind : std::uint8_t {
  none,     ///< the first byte prints as itself (ASCII, or a byte of a UTF-8 sequence that is no C1)
  c0,       ///< U+0000..U+001F, one byte (newline and tab included: whether they pass is the caller's rule)
  del,      ///< U+007F, one byte
  c1,       ///< U+0080..U+009F (the 8-bit CSI among them), two UTF-8 bytes C2 80..C2 9F
  c1_lead,  ///< a lone C2 ending the text: a C1 control if the byte after it (not yet seen) is 80..9F
};

/// The start of a text, classified.
struct TerminalControl {
  TerminalControlKind kind = TerminalControlKind::none;
  std::size_t bytes = 1;        ///< bytes of the text it covers: 2 for c1, else 1
  std::uint8_t code_point = 0;  ///< for c0, del and c1: the control's code point (U+0000..U+009F)
};

/// Classifies the first byte (or, for C1, the first two bytes) of `text`, which is not empty.
/// C1 controls are decoded from UTF-8 only: a lone byte 80..9F is not a code point on its own
/// and passes, as a terminal in UTF-8 mode does not act on it.
[[nodiscard]] TerminalControl terminal_control_at(std::string_view text) noexcept;

}  // namespace lineage
