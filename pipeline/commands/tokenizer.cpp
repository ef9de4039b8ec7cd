#include <boost/program_options.hpp>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/tokenizer_file.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/evidence_record.hpp"
#include "stages/tokenizer/compare_tokenizers.hpp"

namespace lineage::pipeline::commands {
namespace {

std::vector<std::pair<std::string, std::string>> rows(const stages::TokenizerComparison& c) {
  auto num = [](double x, int prec) {
    if (!std::isfinite(x)) return std::string("-");
    std::ostringstream o;
    o << std::fixed << std::setprecision(prec) << x;
    return o.str();
  };
  auto pct = [&](double x) { return num(100 * x, 2) + "%"; };
  return {
      {"model type", c.type_a + " / " + c.type_b},
      {"token encoding", c.encoding_a + " / " + c.encoding_b},
      {"base vocabulary", std::to_string(c.vocab_a) + " / " + std::to_string(c.vocab_b)},
      {"added / special tokens", std::to_string(c.added_a) + " / " + std::to_string(c.added_b) + " (" +
                                     std::to_string(c.shared_added) + " shared by text)"},
      {"shared tokens (as bytes)", std::to_string(c.shared)},
      {"Jaccard", num(c.jaccard, 4)},
      {"share of A / of B", pct(c.share_of_a) + " / " + pct(c.share_of_b)},
      {"same id", std::to_string(c.same_id) + " (" + pct(c.same_id_ratio) + " of the smaller vocabulary)"},
      {"longest run of same ids",
       std::to_string(c.longest_same_id_run) + " from id " + std::to_string(c.longest_same_id_run_start)},
      {"prefix identity", "ids 0.." + std::to_string(c.prefix_identity) + " identical"},
      {"best constant id offset", std::to_string(c.best_offset) + ": " + std::to_string(c.best_offset_count) +
                                      " tokens, longest run " + std::to_string(c.best_offset_run)},
      {"shared tokens in order", std::to_string(c.shared_in_order) + " (" + pct(c.order_fraction) +
                                     ", longest increasing subsequence of B's ids in A's order), Kendall tau " +
                                     num(c.kendall_tau, 4)},
      {"merges", std::to_string(c.merges_a) + " / " + std::to_string(c.merges_b) + ", " +
                     std::to_string(c.shared_merges) + " shared"},
      {"merge order", "Spearman " + num(c.merge_rank_spearman, 4) + ", common prefix " +
                          std::to_string(c.merge_common_prefix) + ", " + std::to_string(c.merge_first1000_exact) +
                          " of the first 1,000 at the same position"},
  };
}

nlohmann::json to_json(const stages::TokenizerComparison& c, const std::string& a, const std::string& b) {
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  return {{"a", a},
          {"b", b},
          {"type_a", c.type_a},
          {"type_b", c.type_b},
          {"encoding_a", c.encoding_a},
          {"encoding_b", c.encoding_b},
          {"vocab_a", c.vocab_a},
          {"vocab_b", c.vocab_b},
          {"shared", c.shared},
          {"jaccard", num(c.jaccard)},
          {"share_of_a", num(c.share_of_a)},
          {"share_of_b", num(c.share_of_b)},
          {"overlap_of_smaller", num(c.overlap_of_smaller)},
          {"same_id", c.same_id},
          {"same_id_ratio", num(c.same_id_ratio)},
          {"longest_same_id_run", c.longest_same_id_run},
          {"longest_same_id_run_start", c.longest_same_id_run_start},
          {"prefix_identity", c.prefix_identity},
          {"best_offset", c.best_offset},
          {"best_offset_count", c.best_offset_count},
          {"best_offset_run", c.best_offset_run},
          {"shared_in_order", c.shared_in_order},
          {"order_fraction", num(c.order_fraction)},
          {"kendall_tau", num(c.kendall_tau)},
          {"merges_a", c.merges_a},
          {"merges_b", c.merges_b},
          {"shared_merges", c.shared_merges},
          {"merge_rank_spearman", num(c.merge_rank_spearman)},
          {"merge_common_prefix", c.merge_common_prefix},
          {"merge_first1000_exact", c.merge_first1000_exact},
          {"merges_in_order", c.merges_in_order},
          {"added_a", c.added_a},
          {"added_b", c.added_b},
          {"shared_added", c.shared_added},
          {"shared_added_same_id", c.shared_added_same_id},
          {"classification", c.classification},
          {"rule", c.rule},
          {"differences", c.differences},
          {"kver_context", c.kver_context}};
}

constexpr const char* kCaveat =
    "tokenizer evidence only: it says nothing about whether the transformer body was reused";

}  // namespace

int tokenizer(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line("tokenizer",
                           "lineage tokenizer A B [--md | --json]\n\n"
                           "Compares two tokenizers (tokenizer.json files or model folders) token by token as the\n"
                           "bytes each token stands for (METHODS §7).\n\noptions",
                           "exit codes: 0 ok, 2 usage, 3 missing or malformed tokenizer file, 5 store not writable\n");
  command_line.options()("md", "Markdown table")("json", "machine-readable output")(
      "out", po::value<std::string>(), "record the result in this result store (created if missing)");
  command_line.hidden()("files", po::value<std::vector<std::string>>());
  const auto parsed = command_line.parse(args, {{"files", 2}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("files") || vm["files"].as<std::vector<std::string>>().size() != 2) {
    throw UsageError("tokenizer: give two tokenizer.json files or model folders");
  }
  const auto files = vm["files"].as<std::vector<std::string>>();
  const auto a = io::read_tokenizer_file(files[0]);
  const auto b = io::read_tokenizer_file(files[1]);
  const auto c = stages::compare_tokenizers(a, b);
  if (vm.count("out")) {
    // A shared tokenizer is weak evidence (many independent models reuse one, METHODS §10.4).
    const bool shared = c.classification.rfind("identical", 0) == 0 || c.classification.rfind("extended", 0) == 0 ||
                        c.classification.rfind("derived", 0) == 0;
    record_evidence(vm["out"].as<std::string>(), {"tokenizer", a.path + " vs " + b.path, shared ? "weak" : "neutral",
                                                  c.classification + " — " + c.rule, to_json(c, a.path, b.path)});
  }
  if (vm.count("json")) {
    std::cout << to_json(c, a.path, b.path).dump(2) << "\n";
    return 0;
  }
  const bool md = vm.count("md") > 0;
  std::cout << (md ? "**A** `" : "A: ") << a.path << (md ? "`  \n**B** `" : "\nB: ") << b.path
            << (md ? "`\n\n" : "\n\n");
  if (md) std::cout << "| statistic | A / B |\n|---|---|\n";
  for (const auto& [k, v] : rows(c)) {
    if (md) {
      std::cout << "| " << k << " | " << v << " |\n";
    } else {
      std::cout << "  " << std::left << std::setw(28) << k << v << "\n";
    }
  }
  std::cout << "\n"
            << (md ? "**classification:** " : "classification: ") << c.classification << " — " << c.rule << "\n";
  if (md && !c.differences.empty()) std::cout << "\n";
  for (const auto& d : c.differences) std::cout << (md ? "- beside it: " : "  beside it: ") << d << "\n";
  std::cout << (md ? "\n" : "") << "context: " << c.kver_context << "; " << kCaveat << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
