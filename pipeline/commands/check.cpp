#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "io/store/store_check.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"

namespace lineage::pipeline::commands {

int check(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "check",
      "lineage check RUN.h5 [--model DIR]... [--json]\n\n"
      "Verifies a result store: schema, completeness, per-row checksums, and the input\n"
      "fingerprints against the model folders (the stored paths where they exist, or --model).\n\noptions",
      "exit codes: 0 the store checks out, 2 usage, 5 unreadable, damaged or incomplete store "
      "or changed inputs\n");
  command_line.options()("json", "machine-readable output")(
      "model", po::value<std::vector<std::string>>(),
      "model folder to check the fingerprint against, in the store's input order (suspect, parents, controls); "
      "repeat for each");
  command_line.hidden()("store", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"store", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("store")) throw UsageError("check: RUN.h5 is required");
  const auto store = vm["store"].as<std::string>();
  std::vector<std::filesystem::path> dirs;
  if (vm.count("model")) {
    for (const auto& d : vm["model"].as<std::vector<std::string>>()) dirs.emplace_back(d);
  }
  const auto r = io::check_result_store(store, dirs);
  if (vm.count("json")) {
    nlohmann::json j{
        {"store", store},
        {"schema_version", r.schema_version},
        {"units", r.units},
        {"results", r.results},
        {"superseded", r.superseded},
        {"complete", r.complete},
        {"checksums", r.has_checksums ? nlohmann::json{{"bad_units", r.bad_units}, {"bad_rows", r.bad_rows}}
                                      : nlohmann::json("none (schema 1)")},
        {"models", nlohmann::json::array()},
        {"problems", r.problems},
        {"ok", r.problems.empty()}};
    for (const auto& m : r.models) {
      j["models"].push_back({{"label", m.label}, {"path", m.path}, {"outcome", m.outcome}, {"ok", m.ok}});
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "store:     " << store << " (schema " << r.schema_version << ")\n"
              << "results:   " << r.results << "/" << r.units << " units"
              << (r.superseded ? " (" + std::to_string(r.superseded) + " superseded by matched units)" : std::string())
              << (r.complete ? ", complete" : ", incomplete") << "\nchecksums: "
              << (r.has_checksums ? std::to_string(r.bad_units + r.bad_rows) + " bad of " +
                                        std::to_string(r.units + r.results) + " rows"
                                  : std::string("none (schema 1 stores have none)"))
              << "\n";
    for (const auto& m : r.models) std::cout << "input:     " << m.label << " " << m.path << ": " << m.outcome << "\n";
  }
  if (!r.problems.empty()) {
    std::string all;
    for (const auto& p : r.problems) all += (all.empty() ? "" : "; ") + p;
    throw StoreError(store + ": check failed: " + all);
  }
  if (!vm.count("json")) std::cout << "ok\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
