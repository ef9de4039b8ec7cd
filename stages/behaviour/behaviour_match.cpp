#include "stages/behaviour/behaviour_match.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "core/errors.hpp"
#include "stages/behaviour/proportion_tests.hpp"

namespace lineage::stages {
namespace {

std::string fmt_p(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 1e-3 ? "%.2e" : "%.4f", p);
  return buf;
}

}  // namespace

BehaviourResult test_behaviour(const io::ModelOutputs& suspect, const std::vector<BehaviourCandidate>& candidates,
                               double alpha, std::size_t min_controls) {
  if (!(alpha > 0 && alpha < 1)) throw UsageError("behaviour: alpha must be in (0, 1)");
  if (std::count_if(candidates.begin(), candidates.end(), [](const auto& c) { return c.parent; }) != 1) {
    throw UsageError("behaviour: exactly one candidate parent is needed");
  }
  BehaviourResult r;
  r.alpha = alpha;
  r.controls = candidates.size() - 1;

  // Prompts every model answered, in the suspect's order.
  std::vector<std::unordered_map<std::string, const std::string*>> lookup(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    for (const auto& [id, out] : candidates[i].outputs.outputs) lookup[i][id] = &out;
  }
  std::vector<std::vector<char>> match(candidates.size());
  for (const auto& [id, out] : suspect.outputs) {
    std::vector<const std::string*> row;
    for (const auto& l : lookup) {
      const auto it = l.find(id);
      row.push_back(it == l.end() ? nullptr : it->second);
    }
    if (std::any_of(row.begin(), row.end(), [](const std::string* s) { return s == nullptr; })) continue;
    for (std::size_t i = 0; i < row.size(); ++i) match[i].push_back(*row[i] == out ? 1 : 0);
  }
  r.prompts = match.empty() ? 0 : match.front().size();
  if (r.prompts < suspect.outputs.size()) {
    r.notes.push_back(std::to_string(suspect.outputs.size() - r.prompts) +
                      " of the suspect's prompts lack an output from some candidate and are left out");
  }
  if (r.prompts == 0) throw InputError(suspect.path, "no prompt id is shared by the suspect and every candidate");

  const auto n = r.prompts;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    CandidateRate c{candidates[i].label, candidates[i].outputs.path, candidates[i].parent, 0, 0, 0, 0};
    c.matches = static_cast<std::uint64_t>(std::count(match[i].begin(), match[i].end(), 1));
    c.rate = static_cast<double>(c.matches) / static_cast<double>(n);
    std::tie(c.wilson_low, c.wilson_high) = wilson_interval(c.matches, n);
    r.rates.push_back(c);
  }
  // The candidate with the largest rate (ties: the parent, then the first listed).
  std::size_t best = 0;
  for (std::size_t i = 1; i < r.rates.size(); ++i) {
    if (r.rates[i].matches > r.rates[best].matches ||
        (r.rates[i].matches == r.rates[best].matches && r.rates[i].parent)) {
      best = i;
    }
  }
  r.best = r.rates[best].label;
  r.best_is_parent = r.rates[best].parent;

  if (r.controls == 0) {
    r.conclusion = "no_controls";
    r.reading = "no control outputs: no valid test exists (METHODS §9); match rates with Wilson intervals only";
    return r;
  }
  std::vector<double> p_unpaired, p_paired;
  for (std::size_t i = 0; i < r.rates.size(); ++i) {
    if (i == best) continue;
    CandidateTest t;
    t.other = r.rates[i].label;
    const auto xb = r.rates[best].matches, xo = r.rates[i].matches;
    std::tie(t.z, t.p) = two_proportion_z(xb, n, xo, n);
    t.fisher = std::min({xb, n - xb, xo, n - xo}) < 5;
    if (t.fisher) t.p = fisher_exact_two_sided(xb, n - xb, xo, n - xo);
    for (std::uint64_t k = 0; k < n; ++k) {
      t.only_best += match[best][k] && !match[i][k];
      t.only_other += !match[best][k] && match[i][k];
    }
    t.p_mcnemar = mcnemar_exact(t.only_best, t.only_other);
    p_unpaired.push_back(t.p);
    p_paired.push_back(t.p_mcnemar);
    r.tests.push_back(t);
  }
  const auto holm = holm_adjust(p_unpaired), holm_paired = holm_adjust(p_paired);
  bool all_rejected = true;
  r.overall_p = r.overall_p_holm = r.overall_p_mcnemar = 0;
  for (std::size_t k = 0; k < r.tests.size(); ++k) {
    auto& t = r.tests[k];
    t.p_holm = holm[k];
    t.p_mcnemar_holm = holm_paired[k];
    t.rejected = t.p_holm < alpha;
    all_rejected = all_rejected && t.rejected;
    r.overall_p = std::max(r.overall_p, t.p);
    r.overall_p_holm = std::max(r.overall_p_holm, t.p_holm);
    r.overall_p_mcnemar = std::max(r.overall_p_mcnemar, t.p_mcnemar_holm);
  }
  const auto rate = [&](std::size_t i) { return fmt_p(r.rates[i].rate); };
  if (!r.best_is_parent) {
    r.conclusion = "closest_is_control";
    r.reading = "the suspect's outputs match " + r.best + " most often (" + rate(best) +
                "), not the candidate parent: no behavioural support for derivation from the parent";
  } else if (!all_rejected) {
    r.conclusion = "not_significant";
    r.reading = "the parent matches most often (" + rate(best) +
                "), but not significantly more than every control "
                "after Holm–Bonferroni (largest adjusted p " +
                fmt_p(r.overall_p_holm) + ")";
  } else if (r.controls < min_controls) {
    r.conclusion = "too_few_controls";
    r.reading = "the parent matches significantly more often than the " + std::to_string(r.controls) +
                " control(s), but the test needs at least " + std::to_string(min_controls) + " controls";
  } else {
    r.conclusion = "derived_from_parent";
    r.reading = "the parent matches significantly more often than every control (match rate " + rate(best) +
                ", largest Holm-adjusted p " + fmt_p(r.overall_p_holm) + ", paired McNemar " +
                fmt_p(r.overall_p_mcnemar) + "); behaviour alone never shows weight reuse";
  }
  if (r.best_is_parent && all_rejected && r.overall_p_mcnemar >= alpha) {
    r.notes.push_back("the paired McNemar test does not reject every control (largest adjusted p " +
                      fmt_p(r.overall_p_mcnemar) + "): the unpaired and paired tests disagree");
  }
  return r;
}

}  // namespace lineage::stages
