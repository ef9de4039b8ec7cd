#include "stages/verdict/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace lineage::stages {
namespace {

constexpr double kDerivedZ = 10.0;    // effect >= 10 null SDs (METHODS §10.2)
constexpr double kUnitZ = 6.0;        // a single unit clearly outside the null
constexpr double kNullZ = 3.0;        // "at null level"
// Power: a derived effect of this size (continued pre-training keeps same-key Pearson well above
// it, METHODS §10.1) must show at kDerivedZ null SDs, i.e. null SD <= 0.05.
constexpr double kPowerEffect = 0.5;

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string fmt(double x, int prec = 3) {
  std::ostringstream o;
  o.precision(prec);
  o << x;
  return o.str();
}

ComponentVerdict judge(const std::string& name, const std::vector<const UnitEvidence*>& units) {
  ComponentVerdict c;
  c.component = name;
  std::vector<double> same, null, rel, eq;
  std::size_t bytes_equal = 0, nontrivial = 0;
  std::uint64_t min_n = UINT64_MAX;
  for (const auto* u : units) {
    if (u->kind == UnitRole::baseline) {
      if (std::isfinite(u->pearson)) null.push_back(u->pearson);
      continue;
    }
    ++c.same_key_units;
    if (std::isfinite(u->pearson)) same.push_back(u->pearson);
    rel.push_back(u->rel_l2);
    eq.push_back(u->frac_equal);
    min_n = std::min(min_n, u->elements);
    // Tiny tensors can coincide by construction (METHODS §2.5 "non-trivial").
    if (u->elements >= 64) {
      ++nontrivial;
      bytes_equal += (u->bytes_equal || u->frac_equal == 1.0) ? 1 : 0;
    }
  }
  c.baseline_units = null.size();
  c.median_pearson = median(same);
  c.median_rel_l2 = median(rel);
  c.median_frac_equal = median(eq);
  c.frac_bytes_equal = nontrivial ? static_cast<double>(bytes_equal) / static_cast<double>(nontrivial) : 0.0;
  if (c.same_key_units == 0) {
    c.reason = "no same-key units to compare";
    return c;
  }
  if (nontrivial > 0 && bytes_equal == nontrivial) {
    c.verdict = VerdictClass::identical;
    c.reason = std::to_string(nontrivial) + " of " + std::to_string(nontrivial) + " non-trivial tensors value-identical";
    return c;
  }
  if (null.size() < 2 || same.empty()) {
    c.reason = "no cross-layer null available (" + std::to_string(null.size()) + " baseline units)";
    return c;
  }
  const double mean = std::accumulate(null.begin(), null.end(), 0.0) / static_cast<double>(null.size());
  double var = 0;
  for (double x : null) var += (x - mean) * (x - mean);
  // Floor: the sampling SD of a correlation over n elements (METHODS §10.2: unrelated pairs sit
  // within a few 1/sqrt(n) of 0), so a handful of baselines cannot fake a tiny null.
  const double floor_sd = 1.0 / std::sqrt(static_cast<double>(std::max<std::uint64_t>(min_n, 1)));
  c.null_mean = mean;
  c.null_sd = std::max(std::sqrt(var / static_cast<double>(null.size() - 1)), floor_sd);
  c.z = (c.median_pearson - mean) / c.null_sd;
  std::size_t beyond = 0;
  for (double s : same) beyond += (s - mean) / c.null_sd >= kUnitZ ? 1 : 0;
  c.frac_beyond_null = static_cast<double>(beyond) / static_cast<double>(same.size());
  const std::string numbers = "median Pearson " + fmt(c.median_pearson) + " vs null " + fmt(mean) + " +- " +
                              fmt(c.null_sd) + " (z " + fmt(c.z) + ", " + fmt(100 * c.frac_beyond_null) +
                              "% of units beyond 6 SD; " + std::to_string(c.baseline_units) + " baseline units)";
  if (c.z >= kDerivedZ && c.frac_beyond_null >= 0.5) {
    c.verdict = VerdictClass::derived;
    if (c.median_frac_equal >= 0.2 || c.median_rel_l2 < 0.05) {
      c.kind = "finetune";
    } else {
      c.kind = "continued_pretrain";
    }
    if (c.frac_beyond_null < 0.9) c.kind += " (part of the units only)";
    c.reason = "derived: " + numbers + "; median rel_l2 " + fmt(c.median_rel_l2) + ", median equal fraction " +
               fmt(c.median_frac_equal);
    return c;
  }
  const bool powered = kPowerEffect / c.null_sd >= kDerivedZ;
  if (std::fabs(c.z) < kNullZ && c.frac_beyond_null < 0.05 && powered) {
    c.verdict = VerdictClass::independent;
    c.reason = "at null level: " + numbers;
    return c;
  }
  c.reason = (powered ? "between null and derived: " : "insufficient power (null SD too large): ") + numbers;
  return c;
}

}  // namespace

const char* to_string(VerdictClass v) noexcept {
  switch (v) {
    case VerdictClass::identical: return "identical";
    case VerdictClass::derived: return "derived";
    case VerdictClass::partial_reuse: return "partial_reuse";
    case VerdictClass::independent: return "independent";
    case VerdictClass::inconclusive: return "inconclusive";
  }
  return "?";
}

std::string verdict_component(const TensorKey& key) {
  switch (key.component) {
    case Component::vision: return "vision";
    case Component::audio: return "audio";
    case Component::projector: return "projector";
    case Component::mtp: return "mtp";
    default: break;
  }
  if (is_norm_role(key.role)) return "norms";
  switch (key.role) {
    case TensorRole::embedding:
    case TensorRole::lm_head: return "embeddings";
    case TensorRole::router:
    case TensorRole::router_bias: return "routers";
    case TensorRole::shared_expert:
    case TensorRole::shared_expert_gate: return "shared_experts";
    case TensorRole::routed_expert: return "routed_experts";
    case TensorRole::dense_mlp: return "dense_mlp";
    default: return "attention";
  }
}

PairVerdict decide_verdict(const std::vector<UnitEvidence>& units) {
  std::map<std::string, std::vector<const UnitEvidence*>> groups;
  for (const auto& u : units) groups[verdict_component(u.key)].push_back(&u);
  PairVerdict v;
  std::size_t identical = 0, derived = 0, independent = 0, informative = 0;
  for (const auto& [name, list] : groups) {
    auto c = judge(name, list);
    if (c.same_key_units == 0) continue;
    ++informative;
    if (c.verdict == VerdictClass::identical) ++identical;
    if (c.verdict == VerdictClass::identical || c.verdict == VerdictClass::derived) {
      ++derived;
      v.reused_components.push_back(name);
    }
    if (c.verdict == VerdictClass::independent) ++independent;
    v.components.push_back(std::move(c));
  }
  if (informative == 0) {
    v.reason = "nothing comparable between the two models";
    return v;
  }
  if (identical == informative) {
    v.overall = VerdictClass::identical;
    v.reason = "every compared component is value-identical";
  } else if (derived == informative) {
    v.overall = VerdictClass::derived;
    // The kind of the largest component class, e.g. the experts' or attention's.
    for (const auto& c : v.components) {
      if (!c.kind.empty()) {
        v.kind = c.kind;
        break;
      }
    }
    v.reason = "every compared component is derived";
  } else if (derived > 0 && independent > 0) {
    v.overall = VerdictClass::partial_reuse;
    v.reason = "components derived: ";
    for (const auto& r : v.reused_components) v.reason += r + " ";
    v.reason += "; others at null level";
  } else if (derived > 0) {
    v.overall = VerdictClass::derived;
    v.kind = "partially examined";
    v.reason = "derived components and inconclusive ones (e.g. permuted or reshaped); none at null level";
  } else if (independent == informative) {
    v.overall = VerdictClass::independent;
    v.reason = "every compared component at null level with power to see a derived effect";
  } else {
    v.reason = "no component derived, not all at null level with power";
  }
  return v;
}

}  // namespace lineage::stages
