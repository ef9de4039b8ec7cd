#include "core/terminal_control.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace lineage {
namespace {

using Kind = TerminalControlKind;

void expect_control(std::string_view text, Kind kind, std::size_t bytes, unsigned code_point) {
  const auto c = terminal_control_at(text);
  EXPECT_EQ(c.kind, kind) << "text of " << text.size() << " bytes";
  EXPECT_EQ(c.bytes, bytes);
  if (kind != Kind::none && kind != Kind::c1_lead) {
    EXPECT_EQ(c.code_point, code_point);
  }
}

TEST(TerminalControl, C0AndDelAreOneByteControlsAndTheRangeEndsExactly) {
  expect_control(std::string_view("\0x", 2), Kind::c0, 1, 0x00);
  expect_control("\x1b[2J", Kind::c0, 1, 0x1b);
  expect_control("\n", Kind::c0, 1, '\n');  // the caller decides whether newline passes
  expect_control("\x1f", Kind::c0, 1, 0x1f);
  expect_control(" ", Kind::none, 1, 0);
  expect_control("~", Kind::none, 1, 0);
  expect_control("\x7f", Kind::del, 1, 0x7f);
}

TEST(TerminalControl, C1IsDecodedFromItsTwoUtf8BytesOnly) {
  expect_control("\xc2\x80", Kind::c1, 2, 0x80);
  expect_control(
      "\xc2\x9b"
      "1m",
      Kind::c1, 2, 0x9b);  // the 8-bit CSI
  expect_control("\xc2\x9f", Kind::c1, 2, 0x9f);
  // U+00A0 and U+00B7 start with C2 too, but are printable; so is C2 before ASCII.
  expect_control("\xc2\xa0", Kind::none, 1, 0);
  expect_control("\xc2\xb7", Kind::none, 1, 0);
  expect_control(
      "\xc2"
      "a",
      Kind::none, 1, 0);
  // A continuation byte 80..9F inside another sequence (U+2014 is E2 80 94), or alone, is no C1.
  expect_control("\xe2\x80\x94", Kind::none, 1, 0);
  expect_control("\x9b", Kind::none, 1, 0);
  expect_control("\x80", Kind::none, 1, 0);
}

TEST(TerminalControl, ALoneC2AtTheEndWaitsForTheNextByte) {
  expect_control("\xc2", Kind::c1_lead, 1, 0);
  expect_control("", Kind::none, 1, 0);  // nothing to classify: no control
}

}  // namespace
}  // namespace lineage
