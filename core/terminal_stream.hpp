#pragma once
/// @file terminal_stream.hpp
/// The whole of standard output and error made terminal-safe (core/terminal_text.hpp escapes
/// one string; this escapes a stream; both find controls with core/terminal_control.hpp), so nothing a command prints
/// can carry a raw control code from a stranger's file.

#include <ostream>
#include <streambuf>

namespace lineage {

/// A stream buffer that forwards text to `dest` made terminal-safe byte by byte: C0 controls
/// other than newline and tab become \xNN; DEL and the C1 range (U+0080..U+009F, two UTF-8
/// bytes, which includes the 8-bit CSI) become \u00NN, an escape JSON reads back as the same
/// character (raw C0 never occurs in lineage's JSON: the writer escapes it). Whatever a command
/// prints, a name, path or config string from a hostile model cannot drive the terminal.
class TerminalSafeStreambuf : public std::streambuf {
 public:
  explicit TerminalSafeStreambuf(std::streambuf* dest) : dest_(dest) {}

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  void put(unsigned char b);
  std::streambuf* dest_;
  bool pending_c2_ = false;  ///< a 0xC2 byte held back until the next one says whether it starts a C1
};

/// Routes std::cout and std::cerr through TerminalSafeStreambuf for the rest of the process
/// (the command line's entry point calls it once; the buffers are never freed, so the streams
/// stay valid while static destructors flush them).
void make_standard_streams_terminal_safe();

/// Standard error without the filter: only for text lineage composes itself with its own control
/// codes (the progress line's carriage return and erase-line).
[[nodiscard]] std::ostream& raw_stderr();

}  // namespace lineage
