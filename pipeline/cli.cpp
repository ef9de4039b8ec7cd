#include "pipeline/cli.hpp"

#include <exception>
#include <iostream>

#include "core/errors.hpp"
#include "core/terminal_stream.hpp"
#include "core/version.hpp"
#include "pipeline/data_dirs.hpp"

namespace lineage::pipeline {
namespace {

void print_usage(std::ostream& out) {
  out << "lineage — evidence about where a large language model came from\n\n"
         "usage: lineage <command> [options]   (lineage <command> --help for details)\n\n"
         "commands:\n";
  for (const auto& cmd : subcommands()) {
    out << "  " << cmd.name << std::string(cmd.name.size() < 12 ? 12 - cmd.name.size() : 1, ' ') << cmd.summary << "\n";
  }
  out << "\nexit codes: 0 ok, 1 internal error, 2 usage, 3 bad input files, 4 bad configuration,\n"
         "            5 result store, 6 cluster (see docs/cli.md)\n";
}

}  // namespace

int run_cli(int argc, char** argv) noexcept {
  // Everything printed passes the terminal filter: names, paths and config strings come from
  // strangers' files (core/terminal_text.hpp).
  make_standard_streams_terminal_safe();
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      print_usage(args.empty() ? std::cerr : std::cout);
      return args.empty() ? static_cast<int>(ExitCode::usage) : 0;
    }
    if (args[0] == "--version") {
      std::cout << "lineage " << kVersion << "\n";
      // Where the data folders were found: an installed copy must not lean on a source tree.
      for (auto f :
           {DataFolder::families, DataFolder::catalog, DataFolder::slurm_templates, DataFolder::synth_styles}) {
        const auto d = find_data_dir(f);
        std::cout << to_string(f) << ": " << d.path.string() << " (" << d.source << ")\n";
      }
      return 0;
    }
    for (const auto& cmd : subcommands()) {
      if (cmd.name == args[0]) {
        args.erase(args.begin());
        return cmd.run(args);
      }
    }
    throw UsageError("unknown command '" + args[0] + "' (see lineage --help)");
  } catch (const Error& e) {
    std::cerr << "lineage: error: " << e.what() << "\n";
    return static_cast<int>(e.exit_code());
  } catch (const std::exception& e) {
    std::cerr << "lineage: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::internal);
  } catch (...) {
    std::cerr << "lineage: internal error: unknown exception\n";
    return static_cast<int>(ExitCode::internal);
  }
}

}  // namespace lineage::pipeline
