#include "core/terminal_control.hpp"

namespace lineage {

TerminalControl terminal_control_at(std::string_view text) noexcept {
  if (text.empty()) return {};
  const auto b = static_cast<unsigned char>(text[0]);
  if (b < 0x20) return {TerminalControlKind::c0, 1, b};
  if (b == 0x7f) return {TerminalControlKind::del, 1, b};
  if (b != 0xc2) return {};
  // U+0080..U+009F is C2 80..C2 9F in UTF-8: the second byte is the code point.
  if (text.size() < 2) return {TerminalControlKind::c1_lead, 1, 0};
  const auto next = static_cast<unsigned char>(text[1]);
  if (next >= 0x80 && next <= 0x9f) return {TerminalControlKind::c1, 2, next};
  return {};
}

}  // namespace lineage
