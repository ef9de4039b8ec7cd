#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/family_file.hpp"
#include "io/run_file.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/commands/text_table.hpp"
#include "pipeline/data_dirs.hpp"
#include "pipeline/environment.hpp"
#include "pipeline/journaled_work.hpp"
#include "stages/plan/row_blocks.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/plan/shard_plan.hpp"

namespace lineage::pipeline::commands {
namespace {

/// Per-rank streaming throughput with all statistics, measured by bench_compare_bench on the
/// 2-core CI machine type (docs/benchmarks.md); override with --throughput for other machines.
constexpr double kMeasuredGBps = 0.38;

std::string gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

std::string duration(double seconds) {
  char buf[32];
  const auto s = std::llround(seconds);
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::vector<int> parse_ranks(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const int n = std::stoi(item, &used);
      if (used != item.size() || n < 1) throw std::invalid_argument(item);
      out.push_back(n);
    } catch (const std::exception&) {
      throw UsageError("plan: --ranks takes positive integers separated by commas, not '" + text + "'");
    }
  }
  if (out.empty()) throw UsageError("plan: --ranks is required");
  return out;
}

/// The run's models and units, left to the operating system when the process ends: freeing two
/// 100k-tensor inventories and 400k units piece by piece took 0.08 s of a 1.26 s `lineage plan`.
/// Kept through a pointer that is never freed, so a leak checker sees them as reachable; a later
/// plan in the same process replaces (and frees) the one kept before.
const stages::RunPlan& keep_until_exit(stages::RunPlan run) {
  static auto* const kept = new std::unique_ptr<stages::RunPlan>();
  *kept = std::make_unique<stages::RunPlan>(std::move(run));
  return **kept;
}

}  // namespace

int plan(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "plan",
      "lineage plan RUN.yaml --ranks N[,N...] [--throughput GB/s] [--json]\n\n"
      "Builds the comparison plan of a run from safetensors headers — or from config.json and the index when\n"
      "the shards are not downloaded — and prints bytes per rank, load imbalance and an estimated wall "
      "time.\n\noptions",
      "exit codes: 0 ok, 2 usage, 3 unreadable model, 4 bad run file or family file\n");
  command_line.options()("ranks", po::value<std::string>(), "rank counts, e.g. 8,64,1024")(
      "throughput", po::value<double>()->default_value(kMeasuredGBps, "0.38"),
      "per-rank streaming throughput in GB/s (default: measured on the CI machine type)")("json",
                                                                                          "machine-readable output");
  command_line.hidden()("run", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"run", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("run")) throw UsageError("plan: RUN.yaml is required");
  const auto ranks = parse_ranks(vm.count("ranks") ? vm["ranks"].as<std::string>() : "");
  const double gbps = vm["throughput"].as<double>();
  if (!(gbps > 0)) throw UsageError("plan: --throughput must be positive");
  const auto cfg = io::read_run_file(vm["run"].as<std::string>());
  const auto case_info = io::read_case(vm["run"].as<std::string>());
  const auto registry = io::load_family_registry(families_dir_of(cfg.families_dir));
  stages::RunPlanOptions options;
  options.planning_only = true;
  options.remote = remote_options();
  const auto& run = keep_until_exit(stages::build_run_plan(cfg, registry, options));
  const auto& models = run.models;
  std::vector<stages::UnitCost> costs;
  costs.reserve(run.units().size());
  for (const auto& u : run.units()) costs.push_back({u.id, u.bytes()});
  const std::uint64_t total = run.bytes();
  // The published model behind each label (case: section), in run order: suspect, parents, controls.
  std::vector<const io::CaseModel*> published;
  if (case_info) {
    published.push_back(&case_info->suspect);
    for (const auto& m : case_info->parents) published.push_back(&m);
    for (const auto& m : case_info->controls) published.push_back(&m);
  }
  auto published_of = [&](std::size_t i) -> const io::CaseModel* {
    return cfg.pair ? nullptr : (i < published.size() ? published[i] : nullptr);
  };
  nlohmann::json j{{"run", vm["run"].as<std::string>()},
                   {"units", costs.size()},
                   {"bytes", total},
                   {"throughput_gb_per_s", gbps},
                   {"models", nlohmann::json::array()},
                   {"plans", nlohmann::json::array()}};
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    nlohmann::json pub = nullptr;
    if (const auto* c = published_of(i)) {
      pub = {{"repo", c->repo}, {"revision", c->revision}};
      if (c->expected_bytes) pub["expected_bytes"] = *c->expected_bytes;
      if (c->expected_params_billions) pub["expected_params_billions"] = *c->expected_params_billions;
    }
    j["models"].push_back(
        {{"label", m.label},
         {"published", pub},
         {"bytes", m.inventory.total_bytes},
         {"dir", m.dir},
         {"family", m.inventory.family},
         {"tensors", m.inventory.tensors.size()},
         {"source", std::string(m.config_only  ? "config"
                                : m.index_only ? "config+index"
                                               : "headers")},
         {"generic_estimate", m.inventory.estimated},
         {"notes", m.inventory.estimated ? nlohmann::json(m.inventory.notes) : nlohmann::json::array()}});
  }
  // The same units cut into row blocks (stages/plan/row_blocks.hpp), as `compare` assigns them to
  // ranks (stages/plan/work_plan.hpp): the wall time is the row block plan's.
  const auto block_bytes = row_block_bytes_of(environment().row_block_bytes);
  const auto block_costs = stages::row_block_costs(run.units(), block_bytes);
  TextTable table({"ranks", "mean/rank", "max/rank", "imbalance", "max vs lower bound", "largest unit",
                   "imbalance, row blocks", "est. wall"});
  for (const int n : ranks) {
    const auto plan = stages::plan_shards(costs, n);
    const auto block_plan = stages::plan_shards(block_costs, n);
    const double mean = static_cast<double>(plan.total_bytes()) / n;
    const double over_bound =
        plan.lower_bound_bytes()
            ? static_cast<double>(plan.max_rank_bytes()) / static_cast<double>(plan.lower_bound_bytes()) - 1
            : 0.0;
    const double wall = static_cast<double>(block_plan.max_rank_bytes()) / (gbps * 1e9);
    j["plans"].push_back({{"ranks", n},
                          {"bytes_per_rank", plan.bytes_of_rank},
                          {"max_rank_bytes", plan.max_rank_bytes()},
                          {"mean_rank_bytes", mean},
                          {"imbalance", plan.imbalance()},
                          {"lower_bound_bytes", plan.lower_bound_bytes()},
                          {"over_lower_bound", over_bound},
                          {"largest_unit_bytes", plan.largest_unit_bytes},
                          {"row_blocks",
                           {{"blocks", block_costs.size()},
                            {"max_rank_bytes", block_plan.max_rank_bytes()},
                            {"imbalance", block_plan.imbalance()},
                            {"largest_block_bytes", block_plan.largest_unit_bytes}}},
                          {"estimated_seconds", wall}});
    char imb[32], ob[32], bimb[32];
    std::snprintf(imb, sizeof imb, "%.2f%%", 100 * plan.imbalance());
    std::snprintf(bimb, sizeof bimb, "%.2f%%", 100 * block_plan.imbalance());
    std::snprintf(ob, sizeof ob, "+%.2f%%", 100 * over_bound);
    table.add({std::to_string(n), gb(mean), gb(static_cast<double>(plan.max_rank_bytes())), imb, ob,
               gb(static_cast<double>(plan.largest_unit_bytes)), bimb, duration(wall)});
  }
  if (vm.count("json")) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "plan for " << vm["run"].as<std::string>() << ": " << costs.size() << " units, "
            << gb(static_cast<double>(total)) << " read\n";
  if (case_info) std::cout << "case: " << case_info->name << "\n";
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& m = models[i];
    if (const auto* c = published_of(i)) {
      std::cout << "  " << m.label << " = " << c->repo << "@" << c->revision << ": "
                << gb(static_cast<double>(m.inventory.total_bytes)) << ", "
                << static_cast<double>(m.inventory.total_params) / 1e9 << " B parameters from this folder";
      if (c->expected_bytes) std::cout << ", published " << gb(static_cast<double>(*c->expected_bytes));
      if (c->expected_params_billions) std::cout << ", stated " << *c->expected_params_billions << " B parameters";
      std::cout << "\n";
    }
    std::cout << "  " << m.label << ": " << m.dir << " (" << m.inventory.family << ", " << m.inventory.tensors.size()
              << " tensors, from "
              << (m.inventory.estimated ? "config.json only (generic estimate: no family names its tensors)"
                  : m.config_only       ? "config.json only (names from the family: an estimate)"
                  : m.index_only        ? "config.json + index"
                                        : "headers")
              << ")\n";
    if (m.inventory.estimated) {
      for (const auto& note : m.inventory.notes) std::cout << "    note: " << note << "\n";
    }
  }
  std::cout << "\n";
  table.print(std::cout, TableStyle::terminal);
  std::cout << "\nimbalance = max/mean - 1; where one unit is larger than the mean no plan can balance better than\n"
               "the largest unit (\"max vs lower bound\"). \"imbalance, row blocks\": the same units cut into row\n"
               "blocks of at most "
            << (block_bytes % (1u << 20) == 0 ? std::to_string(block_bytes >> 20) + " MiB"
                                              : std::to_string(block_bytes) + " bytes")
            << ", as compare assigns work. Wall time at " << gbps << " GB/s per rank, of the row block plan.\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
