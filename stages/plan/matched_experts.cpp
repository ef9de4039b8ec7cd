#include "stages/plan/matched_experts.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "core/errors.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/verdict/sketch_evidence.hpp"

namespace lineage::stages {
namespace {

bool expert_weight(const TensorKey& k) noexcept {
  return k.component == Component::text && k.role == TensorRole::routed_expert && k.kind == ParamKind::weight &&
         k.layer >= 0 && k.expert >= 0;
}

}  // namespace

std::vector<ExpertMove> expert_moves(std::span<const ComparisonUnit> units, io::UnitRows<float> sketches, double alpha,
                                     const SketchNull& null) {
  // sketch_matchings reads a store: the units as the store records them, and the sketches (moved
  // in whole when every one is of a unit, as the pass's are).
  io::StoreContents store;
  store.units = stored_units(units);
  if (std::all_of(sketches.begin(), sketches.end(), [&](const auto& row) { return row.id < units.size(); })) {
    store.sketches = std::move(sketches);
  } else {
    for (const auto row : sketches) {
      if (row.id < units.size()) store.sketches.put(row.id, row.a(), row.b());
    }
  }
  return expert_moves(store, alpha, null);
}

std::vector<ExpertMove> expert_moves(const io::StoreContents& store, double alpha, const SketchNull& null) {
  std::set<int> others;
  for (const auto& u : store.units) {
    if (u.model_a == 0 && u.model_b != 0) others.insert(u.model_b);
  }
  std::vector<ExpertMove> moves;
  for (int other : others) {
    for (const auto& lm : sketch_matchings(store, 0, other, null)) {
      if (!(lm.matching.p <= alpha)) continue;
      const auto& match = lm.matching.match;
      for (std::size_t e = 0; e < match.size(); ++e) {
        if (match[e] < 0 || match[e] == static_cast<int>(e)) continue;
        moves.push_back({other, lm.layer, static_cast<std::int32_t>(e), match[e]});
      }
    }
  }
  return moves;
}

std::vector<std::uint64_t> move_sketch_units(std::span<const ComparisonUnit> units) {
  std::vector<std::uint64_t> out;
  for (const auto& u : units) {
    if (u.sketch && expert_weight(u.key_a) && u.key_a.projection == Projection::down &&
        (u.kind == UnitKind::same_key || u.kind == UnitKind::expert_sketch)) {
      out.push_back(u.id);
    }
  }
  return out;
}

std::vector<std::uint64_t> deferred_same_key_units(std::span<const ComparisonUnit> units, std::size_t planned) {
  // Per (suspect model, other model): the suspect keys compared at a match, and the other's keys
  // some suspect expert is matched to.
  std::set<std::tuple<int, int, TensorKey>> at_match, matched_to;
  for (auto id = planned; id < units.size(); ++id) {
    const auto& u = units[id];
    if (u.kind != UnitKind::matched_expert) continue;
    at_match.emplace(u.a.model, u.b.model, u.key_a);
    matched_to.emplace(u.a.model, u.b.model, u.key_b);
  }
  std::vector<std::uint64_t> out;
  if (at_match.empty()) return out;
  for (std::size_t id = 0; id < planned && id < units.size(); ++id) {
    const auto& u = units[id];
    if (u.kind != UnitKind::same_key || !expert_weight(u.key_a)) continue;
    if (at_match.count({u.a.model, u.b.model, u.key_a}) && matched_to.count({u.a.model, u.b.model, u.key_b})) {
      out.push_back(id);
    }
  }
  return out;
}

std::vector<std::uint64_t> superseded_units(
    std::span<const ComparisonUnit> units, const std::vector<std::uint64_t>& deferred,
    const std::map<std::pair<int, int>, std::set<std::pair<int, int>>>& confirmed) {
  std::vector<std::uint64_t> out;
  for (const auto id : deferred) {
    if (id >= units.size())
      throw InternalError("superseded_units: deferred unit " + std::to_string(id) + " is no unit");
    const auto& u = units[id];
    const auto pair = confirmed.find({u.a.model, u.b.model});
    if (pair != confirmed.end() && pair->second.count({u.key_a.layer, u.key_a.expert})) out.push_back(id);
  }
  return out;
}

std::vector<ComparisonUnit> matched_expert_units(std::span<const ComparisonUnit> units,
                                                 const std::vector<ExpertMove>& moves) {
  // Every routed expert's view of every model, from the units that read it.
  std::map<std::pair<int, TensorKey>, const ElementView*> views;
  for (const auto& u : units) {
    if (!expert_weight(u.key_a)) continue;
    if (u.kind == UnitKind::same_key) {
      views.emplace(std::pair{u.a.model, u.key_a}, &u.a);
      views.emplace(std::pair{u.b.model, u.key_b}, &u.b);
    } else if (u.kind == UnitKind::expert_sketch) {
      views.emplace(std::pair{u.a.model, u.key_a}, &u.a);
    }
  }
  // The suspect's expert weights by (layer, expert), in the order of `views`: one lookup per move
  // instead of a scan of every view (moves x views: 6,000 x 37,000 at 128 experts x 48 layers).
  std::map<std::pair<std::int32_t, std::int32_t>, std::vector<std::pair<const TensorKey*, const ElementView*>>>
      suspect_experts;
  for (const auto& [where, view] : views) {
    if (where.first != 0) continue;
    suspect_experts[{where.second.layer, where.second.expert}].emplace_back(&where.second, view);
  }
  std::vector<ComparisonUnit> out;
  for (const auto& m : moves) {
    const auto expert = suspect_experts.find({m.layer, m.suspect_expert});
    if (expert == suspect_experts.end()) {
      throw InternalError("matched_expert_units: layer " + std::to_string(m.layer) + " expert " +
                          std::to_string(m.suspect_expert) + " of the suspect is in no planned unit");
    }
    for (const auto& [key, view] : expert->second) {
      const auto& ka = *key;
      TensorKey kb = ka;
      kb.expert = m.other_expert;
      const auto b = views.find({m.other_model, kb});
      if (b == views.end()) continue;
      const auto& va = *view;
      const auto& vb = *b->second;
      if (va.rows != vb.rows || va.cols != vb.cols) continue;
      ComparisonUnit u;
      u.id = units.size() + out.size();
      u.kind = UnitKind::matched_expert;
      u.key_a = ka;
      u.key_b = kb;
      u.a = va;
      u.b = vb;
      u.rows = va.rows;
      u.cols = va.cols;
      // Its same-key units may never be computed (deferred, then superseded): both experts'
      // sketches come from here then.
      u.sketch = sketched(ka, UnitKind::matched_expert);
      out.push_back(std::move(u));
    }
  }
  return out;
}

}  // namespace lineage::stages
