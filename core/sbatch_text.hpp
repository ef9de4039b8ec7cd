#pragma once
/// @file sbatch_text.hpp
/// Values written into sbatch scripts (`#SBATCH --partition=VALUE`, ...). A script is run by a
/// shell, so a value with a newline would become a command line of its own; shell
/// metacharacters are refused as well, in case a value ever reaches a command line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lineage {

/// The first character of `value` that may not appear in an sbatch option value (letters,
/// digits and `_-.,:=@%+/[]` are allowed); nullopt when the value is safe. Empty is safe.
[[nodiscard]] std::optional<char> unsafe_sbatch_char(std::string_view value);

/// An extra `#SBATCH` line: an optional "#SBATCH " prefix, then one option ("--x" or "--x=v",
/// "-x v" is refused too) made of safe characters. Returns why it is refused, or nullopt.
[[nodiscard]] std::optional<std::string> unsafe_sbatch_line(std::string_view line);

/// The seconds of a Slurm time limit (sbatch --time: "minutes", "minutes:seconds",
/// "hours:minutes:seconds", "days-hours", "days-hours:minutes", "days-hours:minutes:seconds"), in
/// whole minutes rounded up as Slurm keeps it ("2:30" is 180 s); nullopt for no limit ("0",
/// "UNLIMITED", "INFINITE") and for anything else, which sbatch itself then judges.
[[nodiscard]] std::optional<std::int64_t> slurm_time_seconds(std::string_view time);

/// "newline", "';'", "'\\x1b'": how to name a refused character in a message.
[[nodiscard]] std::string describe_char(char c);

}  // namespace lineage
