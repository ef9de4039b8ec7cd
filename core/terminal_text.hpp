#pragma once
/// @file terminal_text.hpp
/// Text from outside (tensor names, keys, file names) made safe to print on a terminal: control
/// bytes (C0, DEL and the UTF-8 encoded C1 range, which includes CSI) become \xNN escapes, so a
/// crafted name can neither move the cursor, recolour, retitle the terminal nor start a new line.
/// Which bytes are controls is core/terminal_control.hpp's rule, shared with core/terminal_stream.

#include <string>
#include <string_view>

namespace lineage {

[[nodiscard]] std::string terminal_safe(std::string_view text);

}  // namespace lineage
