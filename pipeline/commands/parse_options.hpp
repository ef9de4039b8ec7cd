#pragma once
/// @file parse_options.hpp
/// The one way subcommands parse their arguments: visible options (shown by --help), hidden
/// positional arguments, and a UsageError naming the command for anything Boost rejects.

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "core/errors.hpp"

namespace lineage::pipeline::commands {

/// @param[in] positional  names of the hidden positional options, in order, with their max count
inline boost::program_options::variables_map parse_options(const std::string& command,
                                                           const std::vector<std::string>& args,
                                                           const boost::program_options::options_description& visible,
                                                           const boost::program_options::options_description& hidden,
                                                           const std::vector<std::pair<const char*, int>>& positional) {
  namespace po = boost::program_options;
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description pos;
  for (const auto& [name, count] : positional) pos.add(name, count);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  } catch (const po::error& e) {
    throw UsageError(command + ": " + e.what());
  }
  return vm;
}

}  // namespace lineage::pipeline::commands
