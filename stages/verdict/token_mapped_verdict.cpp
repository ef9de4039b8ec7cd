#include "stages/verdict/token_mapped_verdict.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "stages/behaviour/proportion_tests.hpp"

namespace lineage::stages {
namespace {

std::string fmt(double x, int prec = 3) {
  std::ostringstream o;
  o.precision(prec);
  o << x;
  return o.str();
}

bool is_token_table(const TensorKey& k) {
  return k.component == Component::text && (k.role == TensorRole::embedding || k.role == TensorRole::lm_head);
}

bool fitted(const UnitEvidence& u) {
  return u.rotation_perms > 0 && std::isfinite(u.rotation_cosine) && std::isfinite(u.rotation_null_sd) &&
         u.rotation_null_sd > 0;
}

}  // namespace

double rotation_excess(const UnitEvidence& u) {
  const double room = 1.0 - u.rotation_null_mean;
  return room > 0 ? (u.rotation_cosine - u.rotation_null_mean) / room : 0.0;
}

RoutedUnits route_token_mapped(EvidenceList units) {
  RoutedUnits r;
  std::set<TensorRole> replaced;
  for (const auto& u : units) {
    if (u.kind != UnitKind::token_mapped) continue;
    r.mapped.push_back(u);
    if (u.mapped_same_id < 1.0 && is_token_table(u.key)) {
      r.ids_differ = true;
      replaced.insert(u.key.role);
    }
  }
  // The judged units are the given ones filtered in place, in their order: no second copy of a
  // deep MoE pair's evidence.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < units.size(); ++i) {
    auto& u = units[i];
    const bool id_paired = u.kind == UnitKind::same_key || u.kind == UnitKind::submatrix;
    if (u.kind == UnitKind::token_mapped) {
      if (!replaced.count(u.key.role)) continue;
      u.kind = UnitKind::same_key;  // the same rows of the same tokens: judged as a same-key unit
    } else if (id_paired && is_token_table(u.key) && replaced.count(u.key.role)) {
      continue;
    }
    if (kept != i) units[kept] = u;
    ++kept;
  }
  units.resize(kept);
  r.judged = std::move(units);
  return r;
}

void apply_rotation_evidence(ComponentVerdict& c, const EvidenceList& mapped, const VerdictRules& rules) {
  if (c.verdict == VerdictClass::derived || c.verdict == VerdictClass::identical || c.too_few_finite) return;
  std::vector<const UnitEvidence*> tests;
  for (const auto& u : mapped) {
    if (fitted(u)) tests.push_back(&u);
  }
  if (tests.empty()) return;
  std::vector<double> ps;
  ps.reserve(tests.size());
  for (const auto* u : tests) ps.push_back(u->rotation_null_p);
  const auto adjusted = holm_adjust(ps);
  bool all = true;
  double worst_p = 0, least_excess = std::numeric_limits<double>::infinity();
  double least_z = std::numeric_limits<double>::infinity();
  std::string numbers;
  for (std::size_t i = 0; i < tests.size(); ++i) {
    const auto& u = *tests[i];
    const double z = (u.rotation_cosine - u.rotation_null_mean) / u.rotation_null_sd;
    const double excess = rotation_excess(u);
    all = all && adjusted[i] <= rules.derived_p && z >= rules.min_effect_sds && excess >= kMinRotationExcess;
    worst_p = std::max(worst_p, adjusted[i]);
    least_excess = std::min(least_excess, excess);
    least_z = std::min(least_z, z);
    numbers += std::string(numbers.empty() ? "" : "; ") + std::string(to_string(u.key.role)) + ": held-out cosine " +
               fmt(u.rotation_cosine) + " over " + std::to_string(u.mapped_tokens) +
               " sampled shared tokens (fitted on half), shuffled-pairing null " + fmt(u.rotation_null_mean) + " ± " +
               fmt(u.rotation_null_sd, 2) + ", excess " + fmt(excess) + " of the room above the null, " + fmt(z, 3) +
               " null SDs, p " + fmt(adjusted[i], 2);
  }
  if (!all) {
    c.reason += "; after an orthogonal rotation through the token map: " + numbers +
                " (reuse needs p <= " + fmt(rules.derived_p) + ", >= " + fmt(rules.min_effect_sds) +
                " null SDs and excess >= " + fmt(kMinRotationExcess) + " on every table)";
    return;
  }
  c.reason =
      "derived after an orthogonal rotation through the token map: " + numbers + "; without rotation: " + c.reason;
  c.verdict = VerdictClass::derived;
  c.kind = "rotated";
  c.informative = true;
  c.powered = true;
  c.p_value = worst_p;
  c.effect = least_excess;
  c.z = least_z;
}

std::vector<DerivationKind> token_map_kinds(const EvidenceList& mapped, const PairVerdict& verdict) {
  const auto it = std::find_if(verdict.components.begin(), verdict.components.end(),
                               [](const ComponentVerdict& c) { return c.component == "embeddings"; });
  if (it == verdict.components.end() || mapped.empty()) return {};
  const auto& emb = *it;
  if (emb.verdict != VerdictClass::derived && emb.verdict != VerdictClass::identical) return {};
  std::uint64_t tokens = 0;
  double same_id = 1;
  for (const auto& u : mapped) {
    tokens = std::max(tokens, u.mapped_tokens);
    same_id = std::min(same_id, u.mapped_same_id);
  }
  const bool rotated = emb.kind == "rotated";
  const std::string how = emb.verdict == VerdictClass::identical ? "value-identical"
                          : rotated ? "matching after an orthogonal rotation (held-out excess " + fmt(emb.effect) +
                                          ", " + fmt(emb.z, 3) + " null SDs)"
                                    : "matching (h " + fmt(emb.effect) + ", " + fmt(emb.z, 3) + " null SDs)";
  std::vector<DerivationKind> out;
  if (same_id < 1.0) {
    out.push_back({"vocab_extended",
                   "embedding rows reused through the token map: " + std::to_string(tokens) +
                       " sampled shared tokens, " + fmt(100.0 * (1.0 - same_id), 3) + "% of them at other ids, rows " +
                       how,
                   emb.p_value});
  }
  if (rotated) {
    out.push_back({"rotated", "the hidden basis was rotated: embedding rows of shared tokens " + how, emb.p_value});
  }
  return out;
}

}  // namespace lineage::stages
