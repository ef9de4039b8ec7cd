#include "core/terminal_text.hpp"

#include "core/terminal_control.hpp"

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
  for (std::size_t i = 0; i < text.size();) {
    const auto control = terminal_control_at(text.substr(i));
    // Every control byte becomes \xNN, newline and tab too (a message is one line), and a C1
    // control both of its bytes; a lone C2 at the end is no control and passes.
    const bool escape = control.kind != TerminalControlKind::none && control.kind != TerminalControlKind::c1_lead;
    for (std::size_t k = 0; k < control.bytes; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if (escape) {
        escape_byte(out, b);
      } else {
        out += static_cast<char>(b);
      }
    }
    i += control.bytes;
  }
  return out;
}

}  // namespace lineage
