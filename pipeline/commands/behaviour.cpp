#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/behaviour_outputs.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/commands/text_table.hpp"
#include "pipeline/evidence_record.hpp"
#include "stages/behaviour/behaviour_match.hpp"

namespace lineage::pipeline::commands {
namespace {

std::string num(double x, const char* f = "%.4f") {
  char buf[32];
  std::snprintf(buf, sizeof buf, x != 0 && x < 1e-3 ? "%.2e" : f, x);
  return buf;
}

nlohmann::json to_json(const stages::BehaviourResult& r, const std::string& suspect) {
  nlohmann::json j{{"suspect", suspect},
                   {"prompts", r.prompts},
                   {"alpha", r.alpha},
                   {"controls", r.controls},
                   {"best", r.best},
                   {"best_is_parent", r.best_is_parent},
                   {"overall_p", r.overall_p},
                   {"overall_p_holm", r.overall_p_holm},
                   {"overall_p_mcnemar_holm", r.overall_p_mcnemar},
                   {"conclusion", r.conclusion},
                   {"reading", r.reading},
                   {"notes", r.notes},
                   {"rates", nlohmann::json::array()},
                   {"tests", nlohmann::json::array()}};
  for (const auto& c : r.rates) {
    j["rates"].push_back({{"label", c.label},
                          {"path", c.path},
                          {"parent", c.parent},
                          {"matches", c.matches},
                          {"rate", c.rate},
                          {"wilson_low", c.wilson_low},
                          {"wilson_high", c.wilson_high}});
  }
  for (const auto& t : r.tests) {
    j["tests"].push_back({{"best", r.best},
                          {"other", t.other},
                          {"z", t.z},
                          {"test", t.fisher ? "fisher" : "z"},
                          {"p", t.p},
                          {"p_holm", t.p_holm},
                          {"only_best", t.only_best},
                          {"only_other", t.only_other},
                          {"p_mcnemar", t.p_mcnemar},
                          {"p_mcnemar_holm", t.p_mcnemar_holm},
                          {"rejected", t.rejected}});
  }
  return j;
}

}  // namespace

int behaviour(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "behaviour",
      "lineage behaviour --suspect S.jsonl --parent P.jsonl --control C1.jsonl --control C2.jsonl --control "
      "C3.jsonl\n\n"
      "Black-box behaviour test (METHODS §9): greedy outputs of the suspect, the candidate parent and control\n"
      "models on the same prompts (JSON Lines: {\"prompt_id\": ..., \"output\": \"...\"}, or \"tokens\": [ids]).\n"
      "Match rates, two-proportion z / Fisher tests of the best candidate against every other, Holm–Bonferroni,\n"
      "and the paired exact McNemar test. One component of the evidence, never the only one.\n\noptions",
      "exit codes: 0 ok, 2 usage, 3 missing or malformed outputs file, 5 store not writable\n");
  command_line.options()("suspect", po::value<std::string>(), "the suspect's outputs")(
      "parent", po::value<std::string>(), "the candidate parent's outputs")(
      "control", po::value<std::vector<std::string>>(), "a control model's outputs (repeat; at least 3 for a test)")(
      "alpha", po::value<double>()->default_value(0.05), "family-wise error rate for Holm–Bonferroni")(
      "md", "Markdown tables")("json", "machine-readable output")(
      "out", po::value<std::string>(), "record the result in this result store (created if missing)");
  const auto parsed = command_line.parse(args, {});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("suspect") || !vm.count("parent")) throw UsageError("behaviour: --suspect and --parent are required");
  const auto suspect = io::read_model_outputs(vm["suspect"].as<std::string>());
  std::vector<stages::BehaviourCandidate> candidates;
  candidates.push_back({"parent", true, io::read_model_outputs(vm["parent"].as<std::string>())});
  if (vm.count("control")) {
    int i = 0;
    for (const auto& c : vm["control"].as<std::vector<std::string>>()) {
      candidates.push_back({"control" + std::to_string(++i), false, io::read_model_outputs(c)});
    }
  }
  const auto r = stages::test_behaviour(suspect, candidates, vm["alpha"].as<double>());
  if (vm.count("out")) {
    const auto support = r.conclusion == "derived_from_parent"  ? "derived"
                         : r.conclusion == "closest_is_control" ? "against"
                                                                : "neutral";
    record_evidence(vm["out"].as<std::string>(), {"behaviour", suspect.path + " vs " + candidates.front().outputs.path,
                                                  support, r.reading, to_json(r, suspect.path)});
  }
  if (vm.count("json")) {
    std::cout << to_json(r, suspect.path).dump(2) << "\n";
    return 0;
  }
  const auto style = vm.count("md") ? TableStyle::markdown : TableStyle::terminal;
  std::cout << "suspect: " << suspect.path << "\nprompts answered by every model: " << r.prompts << "\n\n";
  TextTable rates({"candidate", "outputs", "matches", "rate", "95% Wilson"});
  for (const auto& c : r.rates) {
    rates.add({c.label, c.path, std::to_string(c.matches), num(c.rate),
               "[" + num(c.wilson_low) + ", " + num(c.wilson_high) + "]"});
  }
  rates.print(std::cout, style);
  if (!r.tests.empty()) {
    std::cout << "\n"
              << r.best << " (most matches) against each other candidate, Holm–Bonferroni at alpha " << r.alpha
              << ":\n\n";
    TextTable tests({"other", "test", "z", "p", "p (Holm)", "McNemar b/c", "p (McNemar, Holm)", "rejected"});
    for (const auto& t : r.tests) {
      tests.add({t.other, t.fisher ? "Fisher" : "z", t.fisher ? "-" : num(t.z, "%.2f"), num(t.p), num(t.p_holm),
                 std::to_string(t.only_best) + "/" + std::to_string(t.only_other), num(t.p_mcnemar_holm),
                 t.rejected ? "yes" : "no"});
    }
    tests.print(std::cout, style);
    std::cout << "\noverall p (largest): " << num(r.overall_p) << ", Holm-adjusted " << num(r.overall_p_holm) << "\n";
  }
  for (const auto& n : r.notes) std::cout << "note: " << n << "\n";
  std::cout << "\nconclusion: " << r.conclusion << " — " << r.reading << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
