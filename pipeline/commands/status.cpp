#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "io/journal/journal.hpp"
#include "io/run_file.hpp"
#include "io/store/result_store.hpp"
#include "jobs/sbatch_script.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace fs = std::filesystem;

std::string when(fs::file_time_type t) {
  const auto sys = std::chrono::time_point_cast<std::chrono::seconds>(t - fs::file_time_type::clock::now() +
                                                                      std::chrono::system_clock::now());
  const std::time_t tt = std::chrono::system_clock::to_time_t(sys);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&tt));
  return std::string(buf) + " UTC";
}

/// Where one store stands: planned units, finished (in the store or only in its journals),
/// elements, the newest checkpoint and the jobs that wrote to it.
nlohmann::json store_status(const fs::path& store) {
  nlohmann::json j{{"store", store.string()}};
  std::error_code ec;
  if (!fs::exists(store, ec)) {
    j["state"] = "not started";
    return j;
  }
  const auto s = io::read_result_store(store);
  std::set<std::uint64_t> done(s.done_ids.begin(), s.done_ids.end());
  // Same-key units of moved experts judged at their match (io/store/result_store.hpp) are
  // finished without results.
  const std::set<std::uint64_t> superseded(s.superseded_ids.begin(), s.superseded_ids.end());
  std::size_t journaled = 0;
  auto last = fs::last_write_time(store, ec);
  // Row blocks of split units (docs/methods.md "Row blocks") count once their unit is merged
  // into the store; until then they are reported as blocks.
  std::set<std::pair<std::uint64_t, std::uint64_t>> blocks;
  for (const auto& f : io::journal_files_of(store)) {
    (void)io::scan_journal(f, [&](const io::JournalRecordView& r) {
      if (r.block) {
        blocks.emplace(r.unit_id, *r.block);
      } else if (done.insert(r.unit_id).second) {
        ++journaled;
      }
    });
    last = std::max(last, fs::last_write_time(f, ec));
  }
  std::size_t pending_blocks = 0;
  for (const auto& b : blocks) pending_blocks += done.count(b.first) == 0;
  std::uint64_t elements = 0, elements_done = 0, bytes = 0, bytes_done = 0;
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_kind;  // kind -> (done, total)
  for (const auto& u : s.units) {
    const auto e = u.rows * u.cols;
    elements += e;
    bytes += u.bytes;
    auto& k = by_kind[std::string(to_string(u.kind))];
    ++k.second;
    if (superseded.count(u.id)) ++k.first;  // finished without being read
    if (done.count(u.id)) {
      elements_done += e;
      bytes_done += u.bytes;
      ++k.first;
    }
  }
  j["state"] = s.status == "complete"                              ? "complete"
               : done.size() + superseded.size() >= s.units.size() ? "computed, store not finalised"
                                                                   : "partial";
  j["run_id"] = s.run_id;
  j["models"] = nlohmann::json::array();
  for (const auto& m : s.models) j["models"].push_back({{"label", m.label}, {"path", m.path}});
  j["units"] = {{"total", s.units.size()},       {"done", done.size()},
                {"in_store", s.done_ids.size()}, {"superseded", superseded.size()},
                {"only_in_journals", journaled}, {"row_blocks_in_journals", pending_blocks}};
  for (const auto& [kind, dt] : by_kind) j["by_kind"][kind] = {{"done", dt.first}, {"total", dt.second}};
  j["elements"] = {{"total", elements}, {"done", elements_done}};
  j["bytes"] = {{"total", bytes}, {"done", bytes_done}};
  j["verdict"] = !s.verdict_json.empty();
  j["last_checkpoint"] = when(last);
  j["writers"] = s.writers;
  return j;
}

}  // namespace

int status(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line("status",
                           "lineage status RUN.h5 | RUN.yaml [--json]\n\n"
                           "Where a run stands: units done/total (from the store and its journals), by kind,\n"
                           "elements, the last checkpoint and the Slurm jobs that wrote to it.\n\noptions",
                           "exit codes: 0 ok, 2 usage, 4 bad run file, 5 unreadable store\n");
  command_line.options()("json", "machine-readable output");
  command_line.hidden()("target", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"target", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("target")) throw UsageError("status: give RUN.h5 or RUN.yaml");
  const fs::path target = vm["target"].as<std::string>();
  std::vector<fs::path> stores;
  const auto ext = target.extension().string();
  if (ext == ".yaml" || ext == ".yml") {
    const auto cfg = io::read_run_file(target);
    const auto pairs = cfg.parents.size() + cfg.controls.size();
    std::error_code ec;
    if (pairs > 1) {
      // A job array writes one store per pair; the merge job writes cfg.out.
      for (std::size_t i = 0; i < pairs; ++i) stores.emplace_back(jobs::pair_store(cfg.out, i));
    }
    stores.emplace_back(cfg.out);
  } else {
    stores.push_back(target);
  }
  nlohmann::json all = nlohmann::json::array();
  for (const auto& s : stores) all.push_back(store_status(s));
  if (vm.count("json")) {
    std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
    return 0;
  }
  for (const auto& j : all) {
    std::cout << j["store"].get<std::string>() << ": " << j["state"].get<std::string>() << "\n";
    if (!j.contains("units")) continue;
    const auto& u = j["units"];
    std::cout << "  units     " << u["done"] << "/" << u["total"] << " done (" << u["in_store"] << " in the store, "
              << u["only_in_journals"] << " only in journals";
    if (u.value("superseded", 0) > 0) std::cout << "; " << u["superseded"] << " superseded by matched units";
    if (u.value("row_blocks_in_journals", 0) > 0) {
      std::cout << "; " << u["row_blocks_in_journals"] << " row blocks of unfinished split units in journals";
    }
    std::cout << ")\n";
    for (const auto& [kind, dt] : j["by_kind"].items()) {
      std::cout << "    " << kind << " " << dt["done"] << "/" << dt["total"] << "\n";
    }
    std::cout << "  bytes     " << j["bytes"]["done"] << "/" << j["bytes"]["total"] << " read\n"
              << "  elements  " << j["elements"]["done"] << "/" << j["elements"]["total"] << "\n"
              << "  verdict   " << (j["verdict"].get<bool>() ? "written" : "not yet") << "\n"
              << "  last checkpoint " << j["last_checkpoint"].get<std::string>() << "\n  written by";
    for (const auto& w : j["writers"]) std::cout << " " << w.get<std::string>();
    std::cout << "\n";
  }
  return 0;
}

}  // namespace lineage::pipeline::commands
