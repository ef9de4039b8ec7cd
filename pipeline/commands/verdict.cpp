#include <boost/program_options.hpp>
#include <iostream>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"
#include "io/store/result_store.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/verdict_report.hpp"

namespace lineage::pipeline::commands {

int verdict(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line("verdict",
                           "lineage verdict RUN.h5 [--json]\n\n"
                           "Applies the verdict rubric (METHODS §10) to a result store and prints per-component\n"
                           "and overall verdicts with their evidence.\n\noptions",
                           "exit codes: 0 ok, 2 usage, 5 unreadable or incomplete store\n");
  command_line.options()("json", "machine-readable output")(
      "tree-svg", po::value<std::string>(), "write the lineage tree as an SVG picture (merged stores, 3+ models)");
  command_line.hidden()("store", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"store", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("store")) throw UsageError("verdict: RUN.h5 is required");
  const auto store = io::read_result_store(vm["store"].as<std::string>());
  if (store.status != "complete") {
    throw StoreError(vm["store"].as<std::string>() + ": the run is not complete (" +
                     std::to_string(store.done_ids.size()) + "/" + std::to_string(store.units.size()) +
                     " units); finish it with lineage compare --resume");
  }
  const auto v = verdicts_from_store(store);
  if (vm.count("tree-svg")) {
    if (!v.contains("tree")) {
      throw StoreError(vm["store"].as<std::string>() +
                       ": no lineage tree (it needs 3 or more models with every pair compared)");
    }
    io::write_text_file(vm["tree-svg"].as<std::string>(), v["tree"]["svg"].get<std::string>());
  }
  if (vm.count("json")) {
    std::cout << v.dump(2) << "\n";
  } else {
    print_verdict_table(v, std::cout);
  }
  return 0;
}

}  // namespace lineage::pipeline::commands
