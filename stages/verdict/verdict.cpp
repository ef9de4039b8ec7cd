#include "stages/verdict/verdict.hpp"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <tuple>

#include "stages/behaviour/proportion_tests.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/verdict/layer_alignment_evidence.hpp"
#include "stages/verdict/token_mapped_verdict.hpp"

namespace lineage::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
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

double upper_normal_tail(double z) {
  if (!std::isfinite(z)) return z > 0 ? 0.0 : 1.0;
  return boost::math::cdf(boost::math::complement(boost::math::normal(), z));
}

bool compared(UnitKind k) { return k == UnitKind::same_key || k == UnitKind::submatrix || k == UnitKind::cross_role; }

/// The statistic of a test: h or g of one unit, or the joint test of a family's small units.
enum class Statistic : std::uint8_t { h, g, joint_h };

/// A family of tests: one statistic of one role, projection and kind across layers and experts.
/// Its tests share a precision, so the rubric's median is taken within a family.
using TestFamily = std::pair<Statistic, TensorKey>;

TestFamily family_of(const TensorKey& key, Statistic statistic) {
  TensorKey k = key;
  k.layer = -1;
  k.expert = -1;
  k.index = -1;
  return {statistic, k};
}

/// Tested::unit of a joint test, which belongs to no single unit.
constexpr std::size_t kNoUnit = std::numeric_limits<std::size_t>::max();

struct Tested {
  TestFamily family;
  bool cross_role = false;
  std::size_t unit = 0;  ///< kNoUnit for a joint test
  double h = 0, null_mean = 0, null_sd = 0, z = 0, p = 1;
  bool cross = false;
  bool basis = false;  ///< the g test (else h, of one unit or joint)
  bool joint = false;  ///< the joint test of a family (h is the mean over its units)
};

/// The joint test of one family's small same-key units (docs/methods.md, "The joint test"):
/// their summed h against its values under K relabellings of the other model's hidden axis
/// shared by every unit (hidden_null.hpp HiddenNull::joint), which keeps the units' dependence.
/// Reported per unit of the family: h, mean and SD are the sum's divided by the units.
std::optional<Tested> joint_test(const TestFamily& family, const std::vector<const UnitEvidence*>& units) {
  if (units.size() < 2) return std::nullopt;
  const std::size_t k = units.front()->joint_null.size();
  double observed = 0;
  std::vector<double> sums(k, 0.0);
  for (const auto* u : units) {
    observed += u->hidden_corr;
    for (std::size_t i = 0; i < k; ++i) sums[i] += u->joint_null[i];
  }
  const auto test = permutation_test(observed, sums);
  if (!(test.null_sd > 0) || !std::isfinite(observed)) return std::nullopt;
  const double n = static_cast<double>(units.size());
  Tested t;
  t.family = family;
  t.unit = kNoUnit;
  t.joint = true;
  t.h = observed / n;
  t.null_mean = test.null_mean / n;
  t.null_sd = test.null_sd / n;
  t.p = test.p;
  return t;
}

double fisher(const std::vector<double>& p) {
  if (p.empty()) return 1.0;
  double x = 0;
  for (double v : p) x += -2.0 * std::log(std::max(v, 1e-300));
  return boost::math::gamma_q(static_cast<double>(p.size()), x / 2.0);
}

/// @param[in] components  how many components of the pair have tests: "no evidence" is a
///   statement about the whole pair, so the component's p-value is Bonferroni-scaled by it
ComponentVerdict judge(const std::string& name, const std::vector<const UnitEvidence*>& units,
                       const VerdictRules& rules, std::size_t components) {
  ComponentVerdict c;
  c.component = name;
  // Cross-layer baselines of h, each standardised by its own permutation null.
  std::vector<double> cross_z;
  std::vector<double> rel, eq, same;
  std::size_t bytes_equal = 0, nontrivial = 0, finite_equal = 0;
  for (const auto* u : units) {
    if (u->kind == UnitKind::baseline) {
      ++c.baseline_units;
      if (u->has_null()) cross_z.push_back((u->hidden_corr - u->null_mean) / u->null_sd);
      continue;
    }
    if (!compared(u->kind)) continue;
    ++c.same_key_units;
    c.nonfinite.add({u->elements + u->nonfinite, u->nonfinite_a, u->nonfinite_b, u->nonfinite_mismatch});
    if (std::isfinite(u->pearson)) same.push_back(u->pearson);
    rel.push_back(u->rel_l2);
    eq.push_back(u->frac_equal);
    // Tiny tensors can coincide by construction (METHODS §2.5 "non-trivial").
    // Equal decoded values count only where the sides also agree about non-finite values.
    if (u->elements >= 64) {
      ++nontrivial;
      bytes_equal += (u->bytes_equal || (u->frac_equal == 1.0 && u->nonfinite_mismatch == 0)) ? 1 : 0;
      finite_equal += u->frac_equal == 1.0 ? 1 : 0;
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
  const std::string nonfinite_numbers = std::to_string(c.nonfinite.suspect) + " non-finite in the suspect, " +
                                        std::to_string(c.nonfinite.other) + " in the other model, " +
                                        std::to_string(c.nonfinite.mismatch) + " pairs differ in them, of " +
                                        std::to_string(c.nonfinite.elements);
  if (c.nonfinite.finite_share() < rules.min_finite_share) {
    c.too_few_finite = true;
    c.reason = "too few finite values to judge: " + fmt(100.0 * c.nonfinite.finite_share(), 4) +
               "% finite on the worse side, below " + fmt(100.0 * rules.min_finite_share, 4) + "% (" +
               nonfinite_numbers + ")";
    return c;
  }
  if (nontrivial > 0 && bytes_equal == nontrivial) {
    c.verdict = VerdictClass::identical;
    c.informative = true;
    c.powered = true;
    c.p_value = 0;
    c.p_fisher = 0;
    c.reason =
        std::to_string(nontrivial) + " of " + std::to_string(nontrivial) + " non-trivial tensors value-identical";
    return c;
  }
  if (nontrivial > 0 && finite_equal == nontrivial) {
    // The parent's values where both are finite, with NaN/Inf written in on one side: reuse,
    // and never identity.
    c.verdict = VerdictClass::derived;
    c.kind = "nonfinite_modified";
    c.informative = true;
    c.powered = true;
    c.p_value = 0;
    c.p_fisher = 0;
    c.reason =
        "value-identical where both sides are finite, but the non-finite values differ (" + nonfinite_numbers + ")";
    return c;
  }
  // Cross-layer baselines (same role, other layer) calibrate the permutation null of h: pooled
  // over the component, their standardised values should look like N(0, 1). Where they sit
  // higher or spread wider, the null is shifted and widened by as much (never narrowed), which
  // takes the more conservative of the two nulls with far less noise than a per-role SD of 3-4
  // baselines would have. Median and MAD, not mean and SD: when layers were repeated or
  // dropped, some "other layer" pairs are true matches (z in the hundreds), and they must not
  // widen the null of every unit.
  double cross_shift = 0, cross_scale = 1;
  if (cross_z.size() >= 3) {
    const double centre = median(cross_z);
    std::vector<double> dev;
    dev.reserve(cross_z.size());
    for (double z : cross_z) dev.push_back(std::fabs(z - centre));
    cross_shift = std::max(0.0, centre);
    cross_scale = std::max(1.0, 1.4826 * median(dev));
  }
  std::vector<Tested> tested;
  std::size_t tested_units = 0;
  auto calibrate_and_add = [&](Tested& t) {
    if (!t.basis && (cross_shift > 0 || cross_scale > 1)) {
      t.cross = true;
      t.null_mean += cross_shift * t.null_sd;
      t.null_sd *= cross_scale;
    }
    t.z = (t.h - t.null_mean) / t.null_sd;
    if (t.cross) t.p = std::max(t.p, upper_normal_tail(t.z));
    tested.push_back(t);
  };
  auto add_test = [&](const UnitEvidence& u, bool basis) {
    Tested t;
    t.unit = tested_units;
    t.family = family_of(u.key, basis ? Statistic::g : Statistic::h);
    t.cross_role = u.kind == UnitKind::cross_role;
    t.basis = basis;
    t.h = basis ? u.basis_corr : u.hidden_corr;
    t.null_mean = basis ? u.basis_null_mean : u.null_mean;
    t.null_sd = basis ? u.basis_null_sd : u.null_sd;
    t.p = basis ? u.basis_null_p : u.null_p;
    // Cross-layer baselines are a null for h only: h asks whether hidden unit j at position i
    // matches, which other layers of a derived model do not. g asks whether the hidden basis is
    // shared, which every layer of a derived model does, so its baselines measure the
    // derivation itself (and, for independent models, agree with the permutation null).
    calibrate_and_add(t);
  };
  std::vector<double> basis_values;
  std::vector<bool> unit_is_cross_role;
  std::vector<double> unit_rel_l2;
  for (const auto* u : units) {
    if (!compared(u->kind)) continue;
    if (!u->has_null() && !u->has_basis_null()) continue;
    unit_is_cross_role.push_back(u->kind == UnitKind::cross_role);
    unit_rel_l2.push_back(u->rel_l2);
    if (u->has_null()) add_test(*u, false);
    if (u->has_basis_null()) {
      add_test(*u, true);
      basis_values.push_back(u->basis_corr);
    }
    ++tested_units;
  }
  // The joint tests: the small same-key units of one family (one role, one shape, relabelled
  // alike) pooled, the way a weak derivation of a small model shows (docs/methods.md).
  {
    std::map<std::tuple<TestFamily, std::uint64_t, std::uint64_t, std::size_t>, std::vector<const UnitEvidence*>>
        groups;
    for (const auto* u : units) {
      if (u->kind != UnitKind::same_key || !u->has_null() || u->joint_null.empty()) continue;
      groups[{family_of(u->key, Statistic::joint_h), u->rows, u->cols, u->joint_null.size()}].push_back(u);
    }
    for (const auto& [key, members] : groups) {
      if (auto t = joint_test(std::get<0>(key), members)) {
        calibrate_and_add(*t);
        ++c.joint_tests;
      }
    }
  }
  c.tests = tested.size();
  c.median_basis_corr = median(basis_values);
  c.tested_units = tested_units;
  if (tested.empty()) {
    c.reason = "no unit of this component has a permutation null (no axis is exchangeable under independence)";
    return c;
  }
  std::vector<double> ps, hs, sds, means, zs;
  for (const auto& t : tested) {
    ps.push_back(t.p);
    c.cross_layer_null = c.cross_layer_null || t.cross;
    if (t.joint) continue;  // the medians below describe the units' own tests
    if (!t.basis) hs.push_back(t.h);
    sds.push_back(t.null_sd);
    means.push_back(t.null_mean);
  }
  const auto adjusted = holm_adjust(ps);
  // The rubric's median is taken within each family of tests (one statistic of one role, e.g. h
  // of attn_q): their spreads differ, and a median over a mix would measure the mix.
  std::vector<double> sig_h, sig_z;
  std::vector<bool> unit_significant(tested_units, false), unit_hidden_significant(tested_units, false);
  struct Family {
    std::vector<double> effect, z;
  };
  std::map<TestFamily, Family> fam;
  for (std::size_t i = 0; i < tested.size(); ++i) {
    zs.push_back(tested[i].z);
    if (adjusted[i] <= rules.derived_p) {
      sig_h.push_back(tested[i].h);
      sig_z.push_back(tested[i].z);
      if (!tested[i].joint) unit_significant[tested[i].unit] = true;
      // Same-index evidence needs an effect too: a neuron permutation that leaves a few
      // neurons where they were gives a significant h of a few hundredths, which says neither
      // "matches in place" nor how much training changed the weights.
      if (tested[i].basis) {
        c.basis_significant = true;
      } else if (tested[i].h >= rules.min_effect) {
        c.hidden_significant = true;
        if (!tested[i].joint) unit_hidden_significant[tested[i].unit] = true;
      }
      fam[tested[i].family].effect.push_back(tested[i].h);
      fam[tested[i].family].z.push_back(tested[i].z);
    }
  }
  const auto significant_units =
      static_cast<std::size_t>(std::count(unit_significant.begin(), unit_significant.end(), true));
  {
    std::vector<double> matched;
    for (std::size_t i = 0; i < tested_units; ++i) {
      if (unit_hidden_significant[i] && !unit_is_cross_role[i]) matched.push_back(unit_rel_l2[i]);
    }
    c.matched_rel_l2 = matched.empty() ? c.median_rel_l2 : median(matched);
  }
  for (std::size_t i = 0; i < tested_units; ++i) {
    if (!unit_is_cross_role[i]) continue;
    ++c.cross_role_units;
    c.cross_role_significant += unit_significant[i] ? 1 : 0;
  }
  c.significant_units = significant_units;
  c.p_value = *std::min_element(adjusted.begin(), adjusted.end());
  c.p_fisher = fisher(ps);
  c.median_hidden_corr = median(hs);
  if (hs.empty()) c.median_hidden_corr = kNaN;
  c.null_mean = median(means);
  c.null_sd = median(sds);
  c.effect = sig_h.empty() ? c.median_hidden_corr : median(sig_h);
  c.z = sig_z.empty() ? median(zs) : median(sig_z);
  // The family reported is the one with the largest median effect; effects equal up to rounding
  // (two roles of a permuted copy both at h = 1 - 1e-14) report the smaller z, so that the reason
  // does not depend on the last bits of a statistic.
  constexpr double kEffectTie = 1e-9;
  bool meets = false;
  for (const auto& [key, f] : fam) {
    if (f.effect.empty()) continue;
    const double e = median(f.effect), z = median(f.z);
    const bool better = e > c.effect + kEffectTie || (e >= c.effect - kEffectTie && z < c.z);
    if (e >= rules.min_effect && z >= rules.min_effect_sds && (!meets || better)) {
      meets = true;
      c.effect = e;
      c.z = z;
    }
  }
  c.frac_beyond_null = static_cast<double>(significant_units) / static_cast<double>(tested_units);
  // Power: the rubric applied to the weakest derivation. If every test saw an effect of
  // min_effect, each would stand at min_effect / SD null SDs; the component has power when, in
  // some family, Holm would then find significant tests whose median reaches min_effect_sds,
  // i.e. when that derivation would have been called derived.
  {
    std::map<TestFamily, std::vector<double>> would;
    const double m = static_cast<double>(tested.size());
    for (const auto& t : tested) {
      const double z = t.null_sd > 0 ? rules.min_effect / t.null_sd : 0.0;
      if (upper_normal_tail(z) * m <= rules.derived_p) would[t.family].push_back(z);
    }
    c.powered = std::any_of(would.begin(), would.end(), [&](const auto& w) {
      return !w.second.empty() && median(w.second) >= rules.min_effect_sds;
    });
  }
  const std::string numbers =
      "effect " + fmt(c.effect) + " at " + fmt(c.z, 3) + " null SDs, p " + fmt(c.p_value, 2) + " (Holm over " +
      std::to_string(tested.size()) + " tests" +
      (c.joint_tests ? ", " + std::to_string(c.joint_tests) + " of them joint," : std::string()) + " of " +
      std::to_string(tested_units) + " units, " + std::to_string(sig_h.size()) + " tests significant; h " +
      fmt(c.median_hidden_corr) + ", g " + fmt(c.median_basis_corr) + "; null " +
      (c.cross_layer_null ? "permutation and cross-layer" : "permutation") + ", SD " + fmt(c.null_sd, 2) + ")";
  if (c.p_value <= rules.derived_p && meets) {
    c.verdict = VerdictClass::derived;
    c.informative = true;
    c.kind = c.matched_rel_l2 < rules.finetune_rel_l2 ? "finetune" : "continued_pretrain";
    c.reason = "derived: " + numbers + "; median rel_l2 " + fmt(c.median_rel_l2) + ", median equal fraction " +
               fmt(c.median_frac_equal);
    return c;
  }
  const bool no_evidence = c.p_value * static_cast<double>(std::max<std::size_t>(components, 1)) >= rules.null_p;
  if (no_evidence && c.powered) {
    c.verdict = VerdictClass::independent;
    c.informative = true;
    c.reason = "at null level with power: " + numbers;
    return c;
  }
  if (c.p_value <= rules.derived_p) {
    c.reason = "significant but too small to call derived (needs h >= " + fmt(rules.min_effect) +
               " at >= " + fmt(rules.min_effect_sds) + " null SDs): " + numbers;
  } else if (!c.powered) {
    c.reason = "no power: a derivation with effect " + fmt(rules.min_effect) +
               " in every unit would not have reached the rubric (median " + fmt(rules.min_effect_sds) +
               " null SDs among significant tests): " + numbers;
  } else {
    c.reason = "between null and derived: " + numbers;
  }
  return c;
}

bool is_reuse(VerdictClass v) { return v == VerdictClass::derived || v == VerdictClass::identical; }

}  // namespace

double NonFiniteCounts::finite_share() const noexcept {
  if (elements == 0) return 1.0;
  const auto worse = static_cast<double>(std::max(suspect, other));
  return 1.0 - worse / static_cast<double>(elements);
}

void NonFiniteCounts::add(const NonFiniteCounts& o) noexcept {
  elements += o.elements;
  suspect += o.suspect;
  other += o.other;
  mismatch += o.mismatch;
}

bool UnitEvidence::has_null() const noexcept {
  // null_perms is 0 when the null's moments are exact (h); a null SD of 0 means no test.
  return std::isfinite(hidden_corr) && std::isfinite(null_sd) && null_sd > 0 && std::isfinite(null_p);
}

bool UnitEvidence::has_basis_null() const noexcept {
  return basis_perms > 0 && std::isfinite(basis_corr) && std::isfinite(basis_null_sd) && basis_null_sd > 0;
}

const char* to_string(VerdictClass v) noexcept {
  switch (v) {
    case VerdictClass::identical:
      return "identical";
    case VerdictClass::derived:
      return "derived";
    case VerdictClass::partial_reuse:
      return "partial_reuse";
    case VerdictClass::independent:
      return "independent";
    case VerdictClass::inconclusive:
      return "inconclusive";
  }
  return "?";
}

std::string verdict_component(const TensorKey& key) {
  switch (key.component) {
    case Component::vision:
      return "vision";
    case Component::audio:
      return "audio";
    case Component::projector:
      return "projector";
    case Component::mtp:
      return "mtp";
    default:
      break;
  }
  if (is_norm_role(key.role)) return "norms";
  switch (key.role) {
    case TensorRole::embedding:
    case TensorRole::lm_head:
      return "embeddings";
    case TensorRole::router:
    case TensorRole::router_bias:
      return "routers";
    case TensorRole::shared_expert:
    case TensorRole::shared_expert_gate:
      return "shared_experts";
    case TensorRole::routed_expert:
      return "routed_experts";
    case TensorRole::dense_mlp:
      return "dense_mlp";
    default:
      return "attention";
  }
}

namespace {

/// The layer of the other model each suspect layer matches best, from the Spearman correlation
/// of their norm vectors (same-key and cross-layer units; METHODS §5.8, non-monotone maps).
/// A layer whose best match does not stand out from the second by the SD of a Spearman over
/// the vector (1/sqrt(n - 1), times 3) maps to -1.
void norm_layer_map(const EvidenceList& units, const PairLayout& layout, PairVerdict& v) {
  if (layout.suspect_layers <= 0 || layout.other_layers <= 0) return;
  const auto rows = static_cast<std::size_t>(layout.suspect_layers),
             cols = static_cast<std::size_t>(layout.other_layers);
  std::vector<double> sum(rows * cols, 0.0), n(rows * cols, 0.0);
  double sd = 0;
  for (const auto& u : units) {
    if (!is_norm_role(u.key.role) || u.key.role == TensorRole::final_norm || !u.has_null()) continue;
    if (u.kind != UnitKind::same_key && u.kind != UnitKind::baseline) continue;
    const int j = u.kind == UnitKind::same_key ? u.key.layer : u.other_layer;
    if (u.key.layer < 0 || j < 0 || u.key.layer >= layout.suspect_layers || j >= layout.other_layers) continue;
    const auto i = static_cast<std::size_t>(u.key.layer) * cols + static_cast<std::size_t>(j);
    sum[i] += u.hidden_corr;
    n[i] += 1;
    sd = std::max(sd, u.null_sd);
  }
  std::vector<int> map(rows, -1);
  std::vector<double> margin(rows, 0.0);
  bool any = false;
  for (std::size_t r = 0; r < rows; ++r) {
    double best = -2, second = -2;
    int arg = -1;
    for (std::size_t c = 0; c < cols; ++c) {
      if (n[r * cols + c] == 0) continue;
      const double x = sum[r * cols + c] / n[r * cols + c];
      if (x > best) {
        second = best;
        best = x;
        arg = static_cast<int>(c);
      } else if (x > second) {
        second = x;
      }
    }
    if (arg < 0) continue;
    margin[r] = second > -2 ? best - second : best;
    if (margin[r] >= 3 * sd) {
      map[r] = arg;
      any = true;
    }
  }
  if (!any) return;
  // Layer-shuffle null of the order: steps r -> r+1 whose matches move forward by exactly one.
  const auto steps = [&](const std::vector<int>& label) {
    int s = 0;
    for (std::size_t r = 0; r + 1 < rows; ++r) {
      if (map[r] < 0 || map[r + 1] < 0) continue;
      s += label[static_cast<std::size_t>(map[r + 1])] == label[static_cast<std::size_t>(map[r])] + 1 ? 1 : 0;
    }
    return s;
  };
  std::vector<int> label(cols);
  std::iota(label.begin(), label.end(), 0);
  v.layer_map_steps = steps(label);
  constexpr int kShuffles = 1000;
  Relabelling relabel(0x6c617965726d6170ULL ^ (rows << 20) ^ cols);  // fixed: the same p on every run
  int as_many = 0;
  for (int k = 0; k < kShuffles; ++k) {
    relabel.shuffle(label);
    as_many += steps(label) >= v.layer_map_steps ? 1 : 0;
  }
  v.layer_map_p = static_cast<double>(1 + as_many) / (kShuffles + 1);
  v.layer_map = std::move(map);
  v.layer_map_margin = std::move(margin);
}

std::string join_ints(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + (v[i] < 0 ? std::string("?") : std::to_string(v[i]));
  return s + "]";
}

/// The kinds of a derived pair (METHODS §10.1), each with its evidence; a chain when several
/// apply (e.g. finetune + permuted).
/// @param[in] mapped  the pair's token_mapped units (stages/verdict/token_mapped_verdict.hpp)
void derivation_kinds(const EvidenceList& units, const EvidenceList& mapped, const PairLayout& layout,
                      const VerdictRules& rules, PairVerdict& v) {
  // The training kind is sized on the backbone: the attention stack's units that match in
  // place. An identical backbone, or matching units unchanged, means no training (only
  // rearranged, pruned, repeated or extended); without attention, the first component that
  // matches in place stands in.
  const ComponentVerdict* changed = nullptr;
  bool has_attention = false;
  for (const auto& c : v.components) {
    has_attention = has_attention || c.component == "attention";
    if (c.component == "attention" && c.verdict == VerdictClass::derived && c.hidden_significant) changed = &c;
  }
  if (!has_attention) {
    for (const auto& c : v.components) {
      if (!changed && c.verdict == VerdictClass::derived && c.hidden_significant) changed = &c;
    }
  }
  if (changed && changed->matched_rel_l2 > 0) {
    const bool small = changed->matched_rel_l2 < rules.finetune_rel_l2;
    v.kinds.push_back({small ? "finetune" : "continued_pretrain",
                       changed->component + ": median relative L2 change of the matching units " +
                           fmt(changed->matched_rel_l2) + (small ? " < " : " >= ") + fmt(rules.finetune_rel_l2) +
                           ", h " + fmt(changed->effect),
                       changed->p_value});
  }
  // Permuted: the basis matches where the same index does not (experts, neurons or heads moved).
  std::string permuted;
  double permuted_p = 0;
  // Pruned experts shift the expert order of routers and experts too; expert_pruned says it.
  const bool experts_differ = layout.other_experts != layout.suspect_experts;
  for (const auto& c : v.components) {
    if (c.verdict != VerdictClass::derived || !c.basis_significant || c.hidden_significant) continue;
    if (experts_differ && (c.component == "routers" || c.component == "routed_experts")) continue;
    if (c.cross_role_units > 0 && c.cross_role_significant == c.cross_role_units) continue;
    permuted += (permuted.empty() ? "" : ", ") + c.component + " (g " + fmt(c.median_basis_corr) + ", h " +
                fmt(c.median_hidden_corr) + ")";
    permuted_p = std::max(permuted_p, c.p_value);
  }
  if (!permuted.empty()) {
    v.kinds.push_back({"permuted", "same hidden basis, different order: " + permuted, permuted_p});
  }
  // Upcycled: the suspect's experts match the other's dense MLP of their layer.
  for (const auto& c : v.components) {
    if (c.cross_role_units == 0 || c.cross_role_significant == 0) continue;
    v.kinds.push_back({"upcycled",
                       std::to_string(c.cross_role_significant) + " of " + std::to_string(c.cross_role_units) +
                           " expert projections match the other model's dense MLP of their layer",
                       c.p_value});
  }
  if (layout.other_experts > layout.suspect_experts && layout.suspect_experts > 0) {
    v.kinds.push_back({"expert_pruned",
                       std::to_string(layout.other_experts) + " routed experts per layer in the other model, " +
                           std::to_string(layout.suspect_experts) + " in the suspect",
                       1.0});
  }
  if (layout.suspect_layers != layout.other_layers && layout.suspect_layers > 0 && layout.other_layers > 0) {
    norm_layer_map(units, layout, v);
    const bool deeper = layout.suspect_layers > layout.other_layers;
    // The kind rests on the monotone map of the norm vectors' h (stages/align/layer_alignment.hpp):
    // every layer pair of norms is stored, and its layer-shuffle p tests the order.
    const auto norms = std::find_if(v.layer_alignment.begin(), v.layer_alignment.end(),
                                    [](const FamilyLayerAlignment& f) { return f.family == "norms"; });
    const LayerAlignment* map = norms == v.layer_alignment.end() ? nullptr : &norms->centred;
    const bool has_map = map && std::any_of(map->layer_map.begin(), map->layer_map.end(), [](int j) { return j >= 0; });
    v.kinds.push_back(
        {deeper ? "depth_upscaled" : "depth_pruned",
         std::to_string(layout.other_layers) + " layers in the other model, " + std::to_string(layout.suspect_layers) +
             " in the suspect" +
             (!has_map ? std::string("; no layer map stands out")
                       : "; layer map (monotone runs with repeats and gaps, by norm vectors) " +
                             format_layer_map(map->layer_map) + ", " + std::to_string(map->segments) +
                             (map->segments == 1 ? " run" : " runs") + ", layer-shuffle p " + fmt(map->map_p, 2)) +
             (v.layer_map.empty()
                  ? std::string()
                  : "; best match per layer " + join_ints(v.layer_map) + ", " + std::to_string(v.layer_map_steps) +
                        " forward steps, layer-shuffle p " + fmt(v.layer_map_p, 2)),
         has_map ? map->map_p : 1.0});
  }
  bool vocab = false;
  for (const auto& u : units) {
    vocab = vocab || (u.kind == UnitKind::submatrix &&
                      (u.key.role == TensorRole::embedding || u.key.role == TensorRole::lm_head));
  }
  // Through the token map when it exists; otherwise by id on the common rows.
  const auto token_kinds = token_map_kinds(mapped, v);
  const bool mapped_vocab = std::any_of(token_kinds.begin(), token_kinds.end(),
                                        [](const DerivationKind& k) { return k.kind == "vocab_extended"; });
  if (vocab && !mapped_vocab) {
    double p = 1.0;
    for (const auto& c : v.components) {
      if (c.component == "embeddings" && is_reuse(c.verdict)) p = c.p_value;
    }
    v.kinds.push_back({"vocab_extended", "embedding rows differ in number; compared on the common rows", p});
  }
  v.kinds.insert(v.kinds.end(), token_kinds.begin(), token_kinds.end());
  // NaN/Inf on one side only: written in after the fact (a count, not a test).
  if (v.nonfinite.mismatch > 0) {
    v.kinds.push_back({"nonfinite_modified",
                       std::to_string(v.nonfinite.mismatch) + " of " + std::to_string(v.nonfinite.elements) +
                           " compared values are non-finite on one side only (suspect " +
                           std::to_string(v.nonfinite.suspect) + ", other " + std::to_string(v.nonfinite.other) + ")",
                       1.0});
  }
  if (v.kinds.empty()) return;
  v.kind.clear();
  for (const auto& k : v.kinds) v.kind += (v.kind.empty() ? "" : " + ") + k.kind;
}

}  // namespace

PairVerdict decide_verdict(EvidenceList all_units, std::size_t unmatched_tensors, const VerdictRules& rules,
                           const PairLayout& layout) {
  // Embedding rows compared through the token map stand in for rows paired by id where ids differ.
  const auto routed = route_token_mapped(std::move(all_units));
  const auto& units = routed.judged;
  std::map<std::string, std::vector<const UnitEvidence*>> groups;
  for (const auto& u : units) groups[verdict_component(u.key)].push_back(&u);
  PairVerdict v;
  v.layer_alignment = layer_alignments(units, layout);
  std::size_t identical = 0, derived = 0, independent = 0, informative = 0;
  const ComponentVerdict* backbone = nullptr;
  std::vector<double> component_p;
  // Components with at least one tested unit: the family over which "no evidence" is judged.
  std::size_t components_with_tests = 0;
  for (const auto& [name, list] : groups) {
    components_with_tests += std::any_of(list.begin(), list.end(),
                                         [](const UnitEvidence* u) {
                                           return (u->kind == UnitKind::same_key || u->kind == UnitKind::submatrix) &&
                                                  (u->has_null() || u->has_basis_null());
                                         })
                                 ? 1
                                 : 0;
  }
  for (const auto& [name, list] : groups) {
    auto c = judge(name, list, rules, components_with_tests);
    if (name == "embeddings") apply_rotation_evidence(c, routed.mapped, rules);
    if (c.same_key_units == 0) continue;
    v.nonfinite.add(c.nonfinite);
    if (c.informative) {
      ++informative;
      component_p.push_back(c.p_value);
      if (c.verdict == VerdictClass::identical) ++identical;
      if (is_reuse(c.verdict)) {
        ++derived;
        v.reused_components.push_back(name);
      }
      if (c.verdict == VerdictClass::independent) ++independent;
    }
    v.components.push_back(std::move(c));
  }
  for (const auto& c : v.components) {
    if (c.component == "attention" && c.informative) backbone = &c;
  }
  if (!component_p.empty()) {
    const double m = static_cast<double>(component_p.size());
    v.p_value = std::min(1.0, m * *std::min_element(component_p.begin(), component_p.end()));
  }
  // Components left out for their non-finite values: they rule out identity, and every verdict
  // names them.
  std::string too_few_finite;
  for (const auto& c : v.components) {
    if (c.too_few_finite) too_few_finite += (too_few_finite.empty() ? "" : ", ") + c.component;
  }
  const std::string finite_note =
      too_few_finite.empty() ? std::string() : "; too few finite values to judge: " + too_few_finite;
  if (informative == 0) {
    v.reason = "nothing comparable with power between the two models" + finite_note;
    return v;
  }
  bool submatrix = routed.ids_differ, vocab_only = true;
  for (const auto& u : units) {
    if (u.kind != UnitKind::submatrix) continue;
    submatrix = true;
    vocab_only = vocab_only && (u.key.role == TensorRole::embedding || u.key.role == TensorRole::lm_head);
  }
  auto names_with = [&](VerdictClass cls) {
    std::string s;
    for (const auto& c : v.components) {
      if (c.informative && c.verdict == cls) s += (s.empty() ? "" : ", ") + c.component;
    }
    return s;
  };
  if (identical == informative && unmatched_tensors == 0 && !submatrix && too_few_finite.empty()) {
    v.overall = VerdictClass::identical;
    v.reason = "every compared component is value-identical";
  } else if (identical == informative) {
    // Identical where comparable, but the models differ in shape, tensor set or non-finite values.
    v.overall = VerdictClass::derived;
    if (!submatrix && unmatched_tensors == 0) {
      v.kind = "nonfinite_modified";
    } else {
      v.kind = submatrix && vocab_only && unmatched_tensors == 0 ? "vocab_extended" : "reshaped";
    }
    derivation_kinds(units, routed.mapped, layout, rules, v);
    std::string differences;
    auto add = [&](const std::string& s) { differences += (differences.empty() ? "" : "; ") + s; };
    if (unmatched_tensors) add(std::to_string(unmatched_tensors) + " tensors have no counterpart");
    if (submatrix) add("some tensors differ in shape (compared on their common rows)");
    if (!too_few_finite.empty()) add("too few finite values to judge: " + too_few_finite);
    v.reason = "value-identical where comparable, but " + differences;
  } else if (derived == informative) {
    v.overall = VerdictClass::derived;
    // The training kind is the backbone's; an identical backbone was not trained, whatever the
    // element-wise change of components rearranged around it (reordered router rows, say).
    v.kind = backbone ? backbone->kind : std::string();
    for (const auto& c : v.components) {
      if (!backbone && v.kind.empty() && !c.kind.empty()) v.kind = c.kind;
    }
    derivation_kinds(units, routed.mapped, layout, rules, v);
    v.reason =
        "every informative component is derived or identical (" + names_with(VerdictClass::derived) +
        (identical ? std::string(identical == derived ? "" : "; identical: ") + names_with(VerdictClass::identical)
                   : std::string()) +
        ")";
  } else if (derived > 0 && independent > 0) {
    v.overall = VerdictClass::partial_reuse;
    std::string reused;
    for (const auto& r : v.reused_components) reused += (reused.empty() ? "" : ", ") + r;
    v.reason =
        "derived or identical: " + reused + "; at null level with power: " + names_with(VerdictClass::independent);
  } else if (derived > 0) {
    v.overall = VerdictClass::derived;
    v.kind = "partially examined";
    derivation_kinds(units, routed.mapped, layout, rules, v);
    v.reason = "derived: " + names_with(VerdictClass::derived) + "; no component at null level with power";
  } else {
    // Independent: nothing anywhere shows evidence, and the backbone (the attention stack every
    // decoder has; without it, some component) had the power to see a derivation.
    bool evidence = false;
    std::string unpowered;
    for (const auto& c : v.components) {
      if (c.tested_units > 0 && c.p_value * static_cast<double>(components_with_tests) < rules.null_p) evidence = true;
      if (c.tested_units > 0 && !c.informative) unpowered += (unpowered.empty() ? "" : ", ") + c.component;
    }
    const bool has_attention = std::any_of(v.components.begin(), v.components.end(),
                                           [](const ComponentVerdict& c) { return c.component == "attention"; });
    const bool backbone_ok =
        has_attention ? backbone && backbone->verdict == VerdictClass::independent : independent > 0;
    if (!evidence && backbone_ok) {
      v.overall = VerdictClass::independent;
      v.reason = "every compared component at null level; with power to see a derived effect: " +
                 names_with(VerdictClass::independent) + (unpowered.empty() ? "" : "; without power: " + unpowered);
    } else if (evidence) {
      v.reason = "no component derived, but some show evidence short of the rubric";
    } else {
      v.reason = "no component derived, and the attention stack could not be tested with power";
    }
  }
  if (!too_few_finite.empty() && v.reason.find("too few finite") == std::string::npos) v.reason += finite_note;
  return v;
}

ControlCalibration calibrate_with_controls(PairVerdict& parent, const std::map<std::string, PairVerdict>& controls,
                                           const VerdictRules& rules) {
  ControlCalibration cal;
  if (controls.empty()) {
    cal.note = "no control models";
    return cal;
  }
  const ComponentVerdict* chosen = nullptr;
  for (const auto& c : parent.components) {
    if (c.component == "attention" && c.tested_units > 0) chosen = &c;
  }
  if (!chosen) {
    for (const auto& c : parent.components) {
      if (c.tested_units > 0 && (!chosen || c.effect > chosen->effect)) chosen = &c;
    }
  }
  if (!chosen) {
    cal.note = "no component with a permutation null to compare with the controls";
    return cal;
  }
  cal.backbone = chosen->component;
  cal.parent_effect = chosen->median_hidden_corr;
  cal.best_control_effect = -std::numeric_limits<double>::infinity();
  for (const auto& [label, v] : controls) {
    for (const auto& c : v.components) {
      if (c.component != cal.backbone || c.tested_units == 0) continue;
      if (c.median_hidden_corr > cal.best_control_effect) {
        cal.best_control_effect = c.median_hidden_corr;
        cal.best_control = label;
      }
    }
  }
  if (cal.best_control.empty()) {
    cal.note = "no control has a comparable " + cal.backbone + " component";
    return cal;
  }
  cal.margin = cal.parent_effect - cal.best_control_effect;
  cal.margin_sds = chosen->null_sd > 0 ? cal.margin / chosen->null_sd : 0.0;
  cal.stands_out = cal.margin_sds >= rules.control_margin_sds;
  cal.note = "parent " + cal.backbone + " h " + fmt(cal.parent_effect) + " vs best control (" + cal.best_control +
             ") " + fmt(cal.best_control_effect) + ": margin " + fmt(cal.margin) + " = " + fmt(cal.margin_sds, 3) +
             " null SDs";
  const bool claims_reuse = parent.overall == VerdictClass::derived || parent.overall == VerdictClass::partial_reuse ||
                            parent.overall == VerdictClass::identical;
  if (claims_reuse && !cal.stands_out) {
    parent.reason = "the parent does not stand out from every control (" + cal.note + "; needs " +
                    fmt(rules.control_margin_sds) + "); weights alone said: " + to_string(parent.overall) + " — " +
                    parent.reason;
    parent.overall = VerdictClass::inconclusive;
    parent.kind.clear();
  }
  return cal;
}

}  // namespace lineage::stages
