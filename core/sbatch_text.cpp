#include "core/sbatch_text.hpp"

namespace lineage {

std::optional<char> unsafe_sbatch_char(std::string_view value) {
  for (char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("_-.,:=@%+/[]").find(c) != std::string_view::npos;
    if (!ok) return c;
  }
  return std::nullopt;
}

std::optional<std::string> unsafe_sbatch_line(std::string_view line) {
  constexpr std::string_view kPrefix = "#SBATCH ";
  if (line.substr(0, kPrefix.size()) == kPrefix) line.remove_prefix(kPrefix.size());
  if (line.size() < 2 || line[0] != '-') return std::string("is not an sbatch option (--name or --name=value)");
  if (const auto c = unsafe_sbatch_char(line)) return "holds " + describe_char(*c);
  return std::nullopt;
}

std::string describe_char(char c) {
  if (c == '\n') return "a newline";
  if (c == '\r') return "a carriage return";
  const auto b = static_cast<unsigned char>(c);
  if (b < 0x20 || b >= 0x7f) {
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("the byte \\x") + kHex[b >> 4] + kHex[b & 0xf];
  }
  return std::string("the character '") + c + "'";
}

}  // namespace lineage
