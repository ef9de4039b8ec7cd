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

/// Key of a unit's null: the same role, projection and kind (biases, weights and norms of one
/// component have very different nulls and must not share one).
TensorKey null_group(TensorKey k) {
  k.layer = -1;
  k.expert = -1;
  k.index = -1;
  return k;
}

struct Null {
  double mean = 0;
  double sd = 0;
  std::size_t units = 0;
  bool analytic = false;
};

ComponentVerdict judge(const std::string& name, const std::vector<const UnitEvidence*>& units) {
  ComponentVerdict c;
  c.component = name;
  std::map<TensorKey, std::vector<double>> null_values;
  std::map<TensorKey, std::uint64_t> min_n;
  std::vector<double> rel, eq, same;
  std::size_t bytes_equal = 0, nontrivial = 0;
  for (const auto* u : units) {
    const auto g = null_group(u->key);
    auto& mn = min_n.try_emplace(g, UINT64_MAX).first->second;
    mn = std::min(mn, u->elements);
    if (u->kind == UnitRole::baseline) {
      if (std::isfinite(u->pearson)) null_values[g].push_back(u->pearson);
      ++c.baseline_units;
      continue;
    }
    ++c.same_key_units;
    if (std::isfinite(u->pearson)) same.push_back(u->pearson);
    rel.push_back(u->rel_l2);
    eq.push_back(u->frac_equal);
    // Tiny tensors can coincide by construction (METHODS §2.5 "non-trivial").
    if (u->elements >= 64) {
      ++nontrivial;
      bytes_equal += (u->bytes_equal || u->frac_equal == 1.0) ? 1 : 0;
    }
  }
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
    c.informative = true;
    c.reason = std::to_string(nontrivial) + " of " + std::to_string(nontrivial) + " non-trivial tensors value-identical";
    return c;
  }
  // One null per group: cross-layer baselines when there are enough, else the analytic null of
  // a correlation over n independent elements (mean 0, SD 1/sqrt(n); optimistic, METHODS §2.2).
  std::map<TensorKey, Null> nulls;
  for (const auto& [g, n_min] : min_n) {
    Null nl;
    const auto it = null_values.find(g);
    // Floor: the sampling SD of a correlation over n elements, so a handful of baselines cannot
    // fake a tiny null.
    const double floor_sd = 1.0 / std::sqrt(static_cast<double>(std::max<std::uint64_t>(n_min, 1)));
    if (it != null_values.end() && it->second.size() >= 3) {
      const auto& v = it->second;
      nl.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
      double var = 0;
      for (double x : v) var += (x - nl.mean) * (x - nl.mean);
      nl.sd = std::max(std::sqrt(var / static_cast<double>(v.size() - 1)), floor_sd);
      nl.units = v.size();
    } else {
      nl.sd = floor_sd;
      nl.analytic = true;
    }
    nulls[g] = nl;
  }
  // Per-unit z against its own group's null; only groups with power take part in the decision.
  std::vector<double> zs;
  std::size_t beyond = 0, unpowered = 0, analytic = 0;
  double null_mean_sum = 0, null_sd_sum = 0;
  for (const auto* u : units) {
    if (u->kind == UnitRole::baseline || !std::isfinite(u->pearson)) continue;
    const auto& nl = nulls[null_group(u->key)];
    if (kPowerEffect / nl.sd < kDerivedZ) {
      ++unpowered;
      continue;
    }
    const double z = (u->pearson - nl.mean) / nl.sd;
    zs.push_back(z);
    beyond += z >= kUnitZ ? 1 : 0;
    analytic += nl.analytic ? 1 : 0;
    null_mean_sum += nl.mean;
    null_sd_sum += nl.sd;
  }
  if (zs.empty()) {
    c.reason = "insufficient power: " + std::to_string(unpowered) +
               " units too small for their null (a 0.5 effect would not reach 10 SD)";
    return c;
  }
  c.informative = true;
  const double k = static_cast<double>(zs.size());
  c.null_mean = null_mean_sum / k;
  c.null_sd = null_sd_sum / k;
  c.z = median(zs);
  c.frac_beyond_null = static_cast<double>(beyond) / k;
  const std::string numbers = "median Pearson " + fmt(c.median_pearson) + ", median z " + fmt(c.z) + " vs " +
                              (analytic == zs.size() ? "the analytic null" : "cross-layer nulls") + " (" +
                              fmt(100 * c.frac_beyond_null) + "% of " + std::to_string(zs.size()) +
                              " powered units beyond 6 SD" +
                              (unpowered ? "; " + std::to_string(unpowered) + " small units without power" : "") + ")";
  if (c.z >= kDerivedZ && c.frac_beyond_null >= 0.5) {
    c.verdict = VerdictClass::derived;
    c.kind = (c.median_frac_equal >= 0.2 || c.median_rel_l2 < 0.05) ? "finetune" : "continued_pretrain";
    if (c.frac_beyond_null < 0.9) c.kind += " (part of the units only)";
    c.reason = "derived: " + numbers + "; median rel_l2 " + fmt(c.median_rel_l2) + ", median equal fraction " +
               fmt(c.median_frac_equal);
    return c;
  }
  if (std::fabs(c.z) < kNullZ && c.frac_beyond_null < 0.05) {
    c.verdict = VerdictClass::independent;
    c.reason = "at null level: " + numbers;
    return c;
  }
  c.reason = "between null and derived: " + numbers;
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

PairVerdict decide_verdict(const std::vector<UnitEvidence>& units, std::size_t unmatched_tensors) {
  std::map<std::string, std::vector<const UnitEvidence*>> groups;
  for (const auto& u : units) groups[verdict_component(u.key)].push_back(&u);
  PairVerdict v;
  std::size_t identical = 0, derived = 0, independent = 0, informative = 0;
  for (const auto& [name, list] : groups) {
    auto c = judge(name, list);
    if (c.same_key_units == 0) continue;
    // Components without power are reported but do not decide the overall verdict.
    if (!c.informative) {
      v.components.push_back(std::move(c));
      continue;
    }
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
  bool submatrix = false, vocab_only = true;
  for (const auto& u : units) {
    if (u.kind != UnitRole::submatrix) continue;
    submatrix = true;
    vocab_only = vocab_only && (u.key.role == TensorRole::embedding || u.key.role == TensorRole::lm_head);
  }
  if (identical == informative && unmatched_tensors == 0 && !submatrix) {
    v.overall = VerdictClass::identical;
    v.reason = "every compared component is value-identical";
  } else if (identical == informative) {
    // Identical where comparable, but the models differ in shape or tensor set.
    v.overall = VerdictClass::derived;
    v.kind = submatrix && vocab_only && unmatched_tensors == 0 ? "vocab_extended" : "reshaped";
    v.reason = "value-identical where comparable, but " +
               (unmatched_tensors ? std::to_string(unmatched_tensors) + " tensors have no counterpart" +
                                        std::string(submatrix ? " and " : "")
                                  : std::string()) +
               (submatrix ? std::string("some tensors differ in shape (compared on their common rows)") : std::string());
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
