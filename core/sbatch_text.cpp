#include "core/sbatch_text.hpp"

#include <vector>

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

std::optional<std::int64_t> slurm_time_seconds(std::string_view time) {
  if (time == "UNLIMITED" || time == "INFINITE" || time == "unlimited" || time == "infinite") return std::nullopt;
  // Up to nine digits a field: no sum below overflows.
  const auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    std::int64_t v = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  std::optional<std::int64_t> days;
  if (const auto dash = time.find('-'); dash != std::string_view::npos) {
    days = number(time.substr(0, dash));
    if (!days) return std::nullopt;
    time.remove_prefix(dash + 1);
  }
  std::vector<std::int64_t> fields;
  while (true) {
    const auto colon = time.find(':');
    const auto field = number(time.substr(0, colon));
    if (!field) return std::nullopt;
    fields.push_back(*field);
    if (colon == std::string_view::npos) break;
    time.remove_prefix(colon + 1);
  }
  if (fields.size() > 3) return std::nullopt;
  std::int64_t seconds = 0;
  if (days) {  // days-hours[:minutes[:seconds]]
    const std::int64_t scale[] = {3600, 60, 1};
    seconds = *days * 86400;
    for (std::size_t i = 0; i < fields.size(); ++i) seconds += fields[i] * scale[i];
  } else if (fields.size() == 3) {  // hours:minutes:seconds
    seconds = fields[0] * 3600 + fields[1] * 60 + fields[2];
  } else {  // minutes[:seconds]
    seconds = fields[0] * 60 + (fields.size() == 2 ? fields[1] : 0);
  }
  if (seconds == 0) return std::nullopt;  // Slurm: a limit of zero is no limit
  return (seconds + 59) / 60 * 60;        // Slurm's limits are whole minutes, rounded up
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
