#pragma once
/// @file cli.hpp
/// The `lineage` command line: subcommand dispatch and the error boundary that turns any
/// lineage::Error into one line on stderr and a documented exit code (docs/cli.md).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lineage::pipeline {

/// One subcommand. `run` receives the arguments after the subcommand name.
struct Subcommand {
  std::string_view name;
  std::string_view summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

/// All subcommands, in the order `lineage --help` lists them (pipeline/commands.cpp).
const std::vector<Subcommand>& subcommands();

/// Entry point: parses argv, dispatches, catches errors. Never throws.
int run_cli(int argc, char** argv) noexcept;

}  // namespace lineage::pipeline
