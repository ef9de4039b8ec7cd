#pragma once
/// @file parse_options.hpp
/// The one way subcommands parse their arguments: the usage text, --help (the options and the
/// exit codes, then the command ends with 0), the command's own options, hidden positional
/// arguments, and a UsageError naming the command for anything Boost rejects.

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"

namespace lineage::pipeline::commands {

/// One subcommand's command line. Every command shares --help, its page and its error messages
/// through this; the command adds only its own options and positional arguments.
class CommandLine {
 public:
  /// @param[in] usage       the help page's caption (usage line, description, "options")
  /// @param[in] exit_codes  printed after the options on --help ("exit codes: ...\n"; may be empty)
  CommandLine(std::string command, const std::string& usage, std::string exit_codes)
      : command_(std::move(command)), visible_(usage), exit_codes_(std::move(exit_codes)) {
    visible_.add_options()("help,h", "show this help");
  }

  /// The command's own options, shown by --help after --help itself.
  boost::program_options::options_description_easy_init options() { return visible_.add_options(); }
  /// Positional arguments (and testing aids): parsed, but not shown by --help.
  boost::program_options::options_description_easy_init hidden() { return hidden_.add_options(); }

  /// The parsed arguments, or nothing when --help was given: then the help page has been printed
  /// and the command returns 0.
  /// @param[in] positional  names of the hidden positional options, in order, with their max count;
  ///                        a positional argument beyond them is a usage error
  [[nodiscard]] std::optional<boost::program_options::variables_map> parse(
      const std::vector<std::string>& args, const std::vector<std::pair<const char*, int>>& positional) const {
    boost::program_options::positional_options_description pos;
    for (const auto& [name, count] : positional) pos.add(name, count);
    return parse_with(args, &pos);
  }
  /// As above for a command that takes no positional arguments and passes over stray words
  /// (Boost's behaviour without a positional description).
  [[nodiscard]] std::optional<boost::program_options::variables_map> parse(const std::vector<std::string>& args) const {
    return parse_with(args, nullptr);
  }

 private:
  std::optional<boost::program_options::variables_map> parse_with(
      const std::vector<std::string>& args, const boost::program_options::positional_options_description* pos) const {
    namespace po = boost::program_options;
    po::options_description all;
    all.add(visible_).add(hidden_);
    po::command_line_parser parser(args);
    parser.options(all);
    if (pos) parser.positional(*pos);
    po::variables_map vm;
    try {
      po::store(parser.run(), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw UsageError(command_ + ": " + e.what());
    }
    if (vm.count("help")) {
      std::cout << visible_ << "\n" << exit_codes_;
      return std::nullopt;
    }
    return vm;
  }

  std::string command_;
  boost::program_options::options_description visible_;
  boost::program_options::options_description hidden_;
  std::string exit_codes_;
};

}  // namespace lineage::pipeline::commands
