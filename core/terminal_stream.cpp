#include "core/terminal_stream.hpp"

#include <iostream>

#include "core/terminal_control.hpp"

namespace lineage {

void TerminalSafeStreambuf::put(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto unicode_escape = [&](unsigned char code) {
    for (char c : {'\\', 'u', '0', '0', kHex[code >> 4], kHex[code & 0xf]}) dest_->sputc(c);
  };
  if (pending_c2_) {
    pending_c2_ = false;
    const char pair[] = {static_cast<char>(0xc2), static_cast<char>(b)};
    if (const auto control = terminal_control_at({pair, 2}); control.kind == TerminalControlKind::c1) {
      unicode_escape(control.code_point);
      return;
    }
    dest_->sputc(static_cast<char>(0xc2));
  }
  const char byte = static_cast<char>(b);
  switch (terminal_control_at({&byte, 1}).kind) {
    case TerminalControlKind::c1_lead:
      pending_c2_ = true;
      break;
    case TerminalControlKind::del:
      unicode_escape(b);
      break;
    case TerminalControlKind::c0:
      if (b == '\n' || b == '\t') {
        dest_->sputc(byte);
      } else {
        for (char c : {'\\', 'x', kHex[b >> 4], kHex[b & 0xf]}) dest_->sputc(c);
      }
      break;
    case TerminalControlKind::none:
    case TerminalControlKind::c1:  // not from one byte
      dest_->sputc(byte);
      break;
  }
}

TerminalSafeStreambuf::int_type TerminalSafeStreambuf::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return sync() == 0 ? traits_type::not_eof(ch) : ch;
  put(static_cast<unsigned char>(traits_type::to_char_type(ch)));
  return ch;
}

std::streamsize TerminalSafeStreambuf::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) put(static_cast<unsigned char>(s[i]));
  return n;
}

int TerminalSafeStreambuf::sync() { return dest_->pubsync(); }

namespace {
std::streambuf* g_raw_stderr = nullptr;
}  // namespace

void make_standard_streams_terminal_safe() {
  if (g_raw_stderr) return;
  g_raw_stderr = std::cerr.rdbuf();
  std::cout.rdbuf(new TerminalSafeStreambuf(std::cout.rdbuf()));  // never freed: see the header
  std::cerr.rdbuf(new TerminalSafeStreambuf(g_raw_stderr));
}

std::ostream& raw_stderr() {
  static std::ostream* raw = new std::ostream(g_raw_stderr ? g_raw_stderr : std::cerr.rdbuf());
  return *raw;
}

}  // namespace lineage
