#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "io/store/result_store.hpp"
#include "jobs/store_merge.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/store_lock.hpp"
#include "pipeline/verdict_report.hpp"

namespace lineage::pipeline::commands {

int merge(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "merge",
      "lineage merge A.h5 B.h5 ... -o ALL.h5 [--tolerance R] [--force]\n\n"
      "Combines result stores from different runs or clusters. Models are matched by fingerprint; identical\n"
      "units are kept once and must agree within the tolerance — a disagreement is a conflict (listed; nothing\n"
      "written), never averaged. A model path whose bytes differ between stores is refused.\n\noptions",
      "exit codes: 0 ok, 2 usage, 5 unreadable, conflicting or unmergeable stores\n");
  command_line.options()("out,o", po::value<std::string>(), "merged store")(
      "tolerance", po::value<double>()->default_value(1e-9), "relative tolerance for duplicate units")(
      "force", "replace an existing merged store");
  command_line.hidden()("stores", po::value<std::vector<std::string>>());
  const auto parsed = command_line.parse(args, {{"stores", -1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("stores") || !vm.count("out")) throw UsageError("merge: give the stores and -o ALL.h5");
  const auto out = vm["out"].as<std::string>();
  const auto lock = lock_store(out);
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !vm.count("force")) {
    throw StoreError(out + ": exists; pass --force to replace it");
  }
  std::vector<std::pair<std::string, io::StoreContents>> stores;
  for (const auto& s : vm["stores"].as<std::vector<std::string>>()) {
    if (std::filesystem::absolute(s) == std::filesystem::absolute(out))
      throw UsageError("merge: -o must not be one of the inputs");
    stores.emplace_back(s, io::read_result_store(s));
  }
  jobs::MergeOptions options;
  options.rel_tolerance = vm["tolerance"].as<double>();
  auto merged = jobs::merge_stores(stores, options);
  if (!merged.conflicts.empty()) {
    for (const auto& c : merged.conflicts) std::cerr << "conflict: " << c << "\n";
    throw StoreError(std::to_string(merged.conflicts.size()) + " conflicting duplicate unit(s) (relative tolerance " +
                     std::to_string(options.rel_tolerance) + "); nothing written");
  }
  if (merged.store.status == "complete") {
    merged.store.summaries_json = summaries_from_store(merged.store).dump();
    merged.store.verdict_json = verdict_text(merged.store).json;
  }
  io::write_result_store(out, merged.store);
  std::cout << "merged " << merged.inputs << " stores into " << out << ": " << merged.store.models.size() << " models, "
            << merged.store.units.size() << " units (" << merged.duplicate_units << " duplicates agreed), status "
            << merged.store.status << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
