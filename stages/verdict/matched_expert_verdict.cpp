#include "stages/verdict/matched_expert_verdict.hpp"

#include <algorithm>

namespace lineage::stages {
namespace {

std::pair<int, int> expert_of(const UnitEvidence& u) { return {u.key.layer, u.key.expert}; }

}  // namespace

ExpertSet confirmed_moves(const EvidenceList& units, const ExpertSet& neuron_matched, const VerdictRules& rules) {
  const auto matched_units = static_cast<double>(std::count_if(
      units.begin(), units.end(), [](const UnitEvidence& u) { return u.kind == UnitKind::matched_expert; }));
  ExpertSet confirmed;
  for (const auto& u : units) {
    if (u.kind != UnitKind::matched_expert) continue;
    const bool h_derived =
        u.has_null() && u.null_p * matched_units <= rules.derived_p && u.hidden_corr >= rules.min_effect;
    if (u.bytes_equal || h_derived || neuron_matched.count(expert_of(u))) confirmed.insert(expert_of(u));
  }
  return confirmed;
}

EvidenceList route_matched_experts(EvidenceList units, const ExpertSet& confirmed) {
  // Filtered in place: a deep MoE pair's evidence is tens of megabytes.
  std::erase_if(units, [&](const UnitEvidence& u) {
    const bool moved = u.key.role == TensorRole::routed_expert && confirmed.count(expert_of(u));
    if (u.kind == UnitKind::matched_expert) return !moved;
    return (u.kind == UnitKind::same_key || u.kind == UnitKind::submatrix) && moved;
  });
  // The matched units left are the confirmed experts' against the ones they are: same-key comparisons.
  for (auto& u : units) {
    if (u.kind == UnitKind::matched_expert) u.kind = UnitKind::same_key;
  }
  return units;
}

}  // namespace lineage::stages

namespace lineage::stages {

void add_moved_expert_evidence(PairVerdict& v, const ExpertSet& confirmed, const ExpertSet& moved,
                               const std::map<int, double>& layer_p, const PairLayout& layout) {
  if (confirmed.empty() || v.overall != VerdictClass::derived) return;
  if (layout.suspect_experts != layout.other_experts) return;
  double worst = 0;
  std::set<int> layers;
  for (const auto& [layer, expert] : confirmed) {
    layers.insert(layer);
    const auto it = layer_p.find(layer);
    worst = std::max(worst, it == layer_p.end() ? 1.0 : it->second);
  }
  std::string where;
  for (int l : layers) where += (where.empty() ? "" : ",") + std::to_string(l);
  const std::string evidence = std::to_string(confirmed.size()) + " of " + std::to_string(moved.size()) +
                               " experts the sketch matching moved are confirmed at their match (identical "
                               "bytes, h or neurons), in layers " +
                               where;
  auto kind = std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "permuted"; });
  if (kind != v.kinds.end()) {
    kind->evidence += "; " + evidence;
    kind->p_value = std::max(kind->p_value, worst);
    return;
  }
  v.kinds.push_back({"permuted", "experts reordered: " + evidence, worst});
  v.kind.clear();
  for (const auto& k : v.kinds) v.kind += (v.kind.empty() ? "" : " + ") + k.kind;
}

}  // namespace lineage::stages
