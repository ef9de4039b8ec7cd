#include "stages/verdict/matched_expert_verdict.hpp"

#include <set>

namespace lineage::stages {

std::vector<UnitEvidence> route_matched_experts(const std::vector<UnitEvidence>& units) {
  std::set<TensorKey> moved;
  for (const auto& u : units) {
    if (u.kind == UnitKind::matched_expert) moved.insert(u.key);
  }
  if (moved.empty()) return units;
  std::vector<UnitEvidence> judged;
  judged.reserve(units.size());
  for (const auto& u : units) {
    if (u.kind == UnitKind::matched_expert) {
      UnitEvidence e = u;  // the suspect's expert against the one it is: a same-key comparison
      e.kind = UnitKind::same_key;
      judged.push_back(e);
      continue;
    }
    if ((u.kind == UnitKind::same_key || u.kind == UnitKind::submatrix) && moved.count(u.key)) continue;
    judged.push_back(u);
  }
  return judged;
}

}  // namespace lineage::stages
