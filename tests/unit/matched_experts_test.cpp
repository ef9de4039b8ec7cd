// The second phase of compare (issue 10): matched_expert units are planned for the experts a
// significant sketch matching moves, not for experts matched in place, and none for an
// unrelated model; the verdict judges them in place of the moved experts' same-key units.
#include "stages/plan/matched_experts.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/errors.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/verdict/matched_expert_verdict.hpp"
#include "stages/verdict/sketch_evidence.hpp"

namespace lineage::stages {
namespace {

constexpr int kExperts = 6;
constexpr std::uint64_t kNeurons = 40;
const Projection kProjections[] = {Projection::gate, Projection::up, Projection::down};

/// A sketch of a random expert projection (what the pass computes from the weights).
std::vector<float> random_sketch(std::mt19937& rng) {
  std::normal_distribution<float> nd(0, 0.02f);
  std::vector<float> dims(kSketchDims * kNeurons);
  for (auto& x : dims) x = nd(rng);
  return expert_sketch(dims, kNeurons);
}

ElementView view(int model, int expert, Projection p) {
  const std::string name =
      "m" + std::to_string(model) + ".e" + std::to_string(expert) + "." + std::string(to_string(p));
  return ElementView{model, name, "f.safetensors", Dtype::F32, 0, 0, kNeurons, 32, 32, 1};
}

struct Planned {
  std::vector<ComparisonUnit> units;
  io::UnitRows<float> sketches;
};

/// Layer 2 of a suspect whose expert e is the other model's expert perm[e] (related: the same
/// sketches), or an unrelated model (its own sketches). One same-key unit per expert and
/// projection, each with both sides' sketches, after a unit that is no expert.
Planned layer_pair(const std::vector<int>& perm, bool related, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<std::vector<float>>> parent(kExperts), unrelated(kExperts);
  for (int e = 0; e < kExperts; ++e) {
    for (int p = 0; p < 3; ++p) parent[e].push_back(random_sketch(rng));
    for (int p = 0; p < 3; ++p) unrelated[e].push_back(random_sketch(rng));
  }
  Planned out;
  ComparisonUnit norm;
  norm.key_a.role = TensorRole::attn_norm;
  norm.key_a.layer = 2;
  norm.key_b = norm.key_a;
  out.units.push_back(norm);
  for (int e = 0; e < kExperts; ++e) {
    for (int p = 0; p < 3; ++p) {
      ComparisonUnit u;
      u.id = out.units.size();
      u.kind = UnitKind::same_key;
      u.key_a.role = TensorRole::routed_expert;
      u.key_a.layer = 2;
      u.key_a.expert = e;
      u.key_a.projection = kProjections[p];
      u.key_b = u.key_a;
      u.a = view(0, e, kProjections[p]);
      u.b = view(1, e, kProjections[p]);
      u.rows = kNeurons;
      u.cols = 32;
      u.sketch = true;
      const auto& suspect =
          related ? parent[static_cast<std::size_t>(perm[static_cast<std::size_t>(e)])] : unrelated[e];
      out.sketches.put(u.id, suspect[p], parent[e][p]);
      out.units.push_back(u);
    }
  }
  return out;
}

/// layer_pair(perm, related) with the matched_expert units its sketches' moves plan appended
/// after its `count` planned units.
struct WithMatched {
  Planned planned;
  std::size_t count = 0;
  std::vector<ComparisonUnit> units;
};

WithMatched with_matched_units(const std::vector<int>& perm, unsigned seed) {
  WithMatched w;
  w.planned = layer_pair(perm, true, seed);
  w.count = w.planned.units.size();
  w.units = w.planned.units;
  for (auto& u : matched_expert_units(w.units, expert_moves(w.units, w.planned.sketches))) w.units.push_back(u);
  return w;
}

TEST(MatchedExperts, MovedExpertsGetAUnitPerProjectionInPlaceOnesNone) {
  const std::vector<int> perm{0, 2, 1, 3, 5, 4};  // experts 0 and 3 stay in place
  const auto planned = layer_pair(perm, true, 11);
  const auto moves = expert_moves(planned.units, planned.sketches);
  const std::vector<ExpertMove> want{{1, 2, 1, 2}, {1, 2, 2, 1}, {1, 2, 4, 5}, {1, 2, 5, 4}};
  EXPECT_EQ(moves, want);
  const auto units = matched_expert_units(planned.units, moves);
  ASSERT_EQ(units.size(), 12u);
  for (std::size_t i = 0; i < units.size(); ++i) {
    const auto& u = units[i];
    const auto& m = moves[i / 3];
    EXPECT_EQ(u.id, planned.units.size() + i);
    EXPECT_EQ(u.kind, UnitKind::matched_expert);
    EXPECT_EQ(u.key_a.expert, m.suspect_expert);
    EXPECT_EQ(u.key_b.expert, m.other_expert);
    EXPECT_EQ(u.key_a.projection, u.key_b.projection);
    EXPECT_EQ(u.key_a.layer, 2);
    // The suspect's view of its expert, the other model's view of the matched one.
    EXPECT_EQ(u.a.tensor, view(0, m.suspect_expert, u.key_a.projection).tensor);
    EXPECT_EQ(u.b.tensor, view(1, m.other_expert, u.key_a.projection).tensor);
    EXPECT_EQ(u.rows, kNeurons);
    EXPECT_TRUE(u.sketch);  // its same-key units may be superseded: it carries both experts' sketches
  }
  // Deterministic: a resumed run plans the same units.
  EXPECT_EQ(expert_moves(planned.units, planned.sketches), moves);
}

TEST(MatchedExperts, AllInPlacePlansNone) {
  const auto planned = layer_pair({0, 1, 2, 3, 4, 5}, true, 12);
  EXPECT_TRUE(expert_moves(planned.units, planned.sketches).empty());
}

TEST(MatchedExperts, AnInsignificantMatchingPlansNone) {
  for (unsigned seed = 20; seed < 24; ++seed) {
    const auto planned = layer_pair({0, 2, 1, 3, 5, 4}, false, seed);
    EXPECT_TRUE(expert_moves(planned.units, planned.sketches).empty()) << seed;
    // The same sketches with a permissive threshold would move experts: the threshold decides.
  }
  const auto planned = layer_pair({0, 2, 1, 3, 5, 4}, false, 20);
  EXPECT_FALSE(expert_moves(planned.units, planned.sketches, 1.0).empty());
}

TEST(MatchedExperts, AMoveOfAnExpertNoUnitHoldsIsABug) {
  const auto planned = layer_pair({0, 1, 2, 3, 4, 5}, true, 13);
  EXPECT_THROW((void)matched_expert_units(planned.units, {{1, 2, 9, 1}}), InternalError);
}

TEST(MatchedExperts, TheDownProjectionsSketchesAloneFindTheMovesBeforeThePass) {
  const std::vector<int> perm{0, 2, 1, 3, 5, 4};
  const auto planned = layer_pair(perm, true, 14);
  const auto ids = move_sketch_units(planned.units);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kExperts));
  for (const auto id : ids) EXPECT_EQ(planned.units[id].key_a.projection, Projection::down);
  io::UnitRows<float> down;
  for (const auto id : ids) down.put(id, planned.sketches.find(id)->a(), planned.sketches.find(id)->b());
  EXPECT_EQ(expert_moves(planned.units, down), expert_moves(planned.units, planned.sketches));
  // Units not sketched (--no-expert-sketches) give nothing to match.
  auto unsketched = planned.units;
  for (auto& u : unsketched) u.sketch = false;
  EXPECT_TRUE(move_sketch_units(unsketched).empty());
}

TEST(MatchedExperts, ASameKeyUnitIsDeferredOnlyWhereMatchedUnitsCoverBothItsSides) {
  const std::vector<int> perm{0, 2, 1, 3, 5, 4};
  const auto w = with_matched_units(perm, 15);
  const auto& [planned, count, units] = w;
  const auto deferred = deferred_same_key_units(units, count);
  std::vector<std::uint64_t> want;
  for (std::size_t id = 0; id < count; ++id) {
    const int e = units[id].key_a.expert;
    if (units[id].kind == UnitKind::same_key && e >= 0 && perm[static_cast<std::size_t>(e)] != e) want.push_back(id);
  }
  EXPECT_EQ(deferred, want);
  EXPECT_EQ(deferred.size(), 12u);
  // Suspect expert 1 matched to the other's 3 alone (the other's expert 1 is nobody's match, as
  // after pruning): its same-key units stay, or the other's expert 1 would have no sketch.
  auto one = planned.units;
  for (auto& u : matched_expert_units(one, {{1, 2, 1, 3}})) one.push_back(u);
  EXPECT_TRUE(deferred_same_key_units(one, count).empty());
  EXPECT_TRUE(deferred_same_key_units(planned.units, count).empty());
}

TEST(MatchedExperts, OnlyTheDeferredUnitsOfExpertsJudgedAtTheirMatchAreSuperseded) {
  const std::vector<int> perm{0, 2, 1, 3, 5, 4};
  const auto w = with_matched_units(perm, 16);
  const auto& [planned, count, units] = w;
  const auto deferred = deferred_same_key_units(units, count);
  const auto superseded = superseded_units(units, deferred, {{{0, 1}, {{2, 1}, {2, 4}}}});
  ASSERT_EQ(superseded.size(), 6u);
  for (const auto id : superseded) {
    EXPECT_TRUE(units[id].key_a.expert == 1 || units[id].key_a.expert == 4) << id;
  }
  EXPECT_TRUE(superseded_units(units, deferred, {{{0, 2}, {{2, 1}}}}).empty());  // another pair
  EXPECT_TRUE(superseded_units(units, deferred, {}).empty());
}

TEST(MatchedExperts, TheSketchMatchingReadsAMovedExpertsSketchesFromItsMatchedUnits) {
  const std::vector<int> perm{0, 2, 1, 3, 5, 4};
  const auto w = with_matched_units(perm, 17);
  // Named references, not a structured binding: the lambda below captures planned.
  const auto& planned = w.planned;
  const auto count = w.count;
  const auto& units = w.units;
  io::StoreContents all, without;
  all.units = without.units = stored_units(units);
  all.sketches = planned.sketches;
  const auto deferred = deferred_same_key_units(units, count);
  for (const auto row : planned.sketches) {
    if (!std::binary_search(deferred.begin(), deferred.end(), row.id)) without.sketches.put(row.id, row.a(), row.b());
  }
  // A matched unit's sketches are its two sides' (suspect expert, the other's matched expert).
  for (auto id = count; id < units.size(); ++id) {
    const auto& u = units[id];
    const auto side = [&](int model, int expert) {
      for (const auto row : planned.sketches) {
        const auto& s = planned.units[row.id];
        if (s.key_a.expert == expert && s.key_a.projection == u.key_a.projection) return model == 0 ? row.a() : row.b();
      }
      return std::span<const float>{};
    };
    without.sketches.put(id, side(0, u.key_a.expert), side(1, u.key_b.expert));
  }
  const auto a = sketch_matchings(all, 0, 1), b = sketch_matchings(without, 0, 1);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].matching.match, b[0].matching.match);
  EXPECT_EQ(a[0].matching.p, b[0].matching.p);
  EXPECT_EQ(a[0].matching.matched_mean, b[0].matching.matched_mean);
}

UnitEvidence expert_unit(int expert, UnitKind kind, double pearson) {
  UnitEvidence u;
  u.kind = kind;
  u.key.role = TensorRole::routed_expert;
  u.key.layer = 1;
  u.key.expert = expert;
  u.key.projection = Projection::up;
  u.pearson = pearson;
  return u;
}

TEST(MatchedExperts, TheVerdictJudgesConfirmedMatchedUnitsInPlaceOfTheMovedExpertsSameKeyUnits) {
  EvidenceList units = {expert_unit(0, UnitKind::same_key, 0.99),        // in place: kept
                        expert_unit(1, UnitKind::same_key, 0.01),        // moved, confirmed: gives way
                        expert_unit(1, UnitKind::matched_expert, 0.99),  // ... to its match
                        expert_unit(2, UnitKind::same_key, 0.02),        // moved, not confirmed: kept
                        expert_unit(2, UnitKind::matched_expert, 0.3),   // ... and its match left out
                        expert_unit(0, UnitKind::baseline, 0.0)};
  const auto judged = route_matched_experts(units, {{1, 1}});
  ASSERT_EQ(judged.size(), 4u);
  EXPECT_EQ(judged[0].key.expert, 0);
  EXPECT_EQ(judged[1].key.expert, 1);
  EXPECT_EQ(judged[1].kind, UnitKind::same_key);
  EXPECT_EQ(judged[1].pearson, 0.99);
  EXPECT_EQ(judged[2].key.expert, 2);
  EXPECT_EQ(judged[2].pearson, 0.02);
  EXPECT_EQ(judged[3].kind, UnitKind::baseline);
  // Nothing confirmed: every same-key unit stands, no matched unit is judged.
  const auto none = route_matched_experts(units, {});
  EXPECT_EQ(std::count_if(none.begin(), none.end(), [](const auto& u) { return u.kind == UnitKind::same_key; }), 3);
}

TEST(MatchedExperts, AMoveStandsOnlyWhereTheExpertsOwnStatisticsAtTheMatchConfirmIt) {
  // A repeated layer's experts matched to the other model's next layer (trained depth
  // up-scaling): g shared, h near zero, neurons not matched. Not confirmed.
  auto cross_layer = expert_unit(3, UnitKind::matched_expert, 0.01);
  cross_layer.hidden_corr = 0.01;
  cross_layer.null_sd = 0.01;
  cross_layer.null_p = 0.2;
  cross_layer.basis_corr = 0.6;
  cross_layer.basis_null_sd = 0.01;
  cross_layer.basis_null_p = 1e-30;
  EXPECT_TRUE(confirmed_moves({cross_layer}, {}).empty());
  // A significant h that is too small to call derived (a few neurons left in place) is not either.
  auto few_in_place = cross_layer;
  few_in_place.hidden_corr = 0.06;
  few_in_place.null_p = 1e-12;
  EXPECT_TRUE(confirmed_moves({few_in_place}, {}).empty());
  // Identical bytes, an h that calls the projection derived, or the neuron matching confirm it.
  auto copy = cross_layer;
  copy.bytes_equal = true;
  EXPECT_EQ(confirmed_moves({copy}, {}), (ExpertSet{{1, 3}}));
  auto trained = cross_layer;
  trained.hidden_corr = 0.9;
  trained.null_p = 1e-40;
  EXPECT_EQ(confirmed_moves({trained}, {}), (ExpertSet{{1, 3}}));
  EXPECT_EQ(confirmed_moves({cross_layer}, {{1, 3}}), (ExpertSet{{1, 3}}));
  // h's p is Bonferroni-adjusted over the matched units.
  auto borderline = trained;
  borderline.null_p = 1e-7;
  EXPECT_EQ(confirmed_moves({borderline}, {}).size(), 1u);
  EXPECT_TRUE(confirmed_moves(EvidenceList(20, borderline), {}).empty());
}

TEST(MatchedExperts, ConfirmedMovesGiveThePermutedKindUnlessExpertCountsDiffer) {
  PairVerdict v;
  v.overall = VerdictClass::derived;
  add_moved_expert_evidence(v, {{1, 2}, {1, 3}}, {{1, 2}, {1, 3}, {2, 0}}, {{1, 1e-40}, {2, 0.5}}, {4, 4, 8, 8});
  ASSERT_EQ(v.kinds.size(), 1u);
  EXPECT_EQ(v.kinds[0].kind, "permuted");
  EXPECT_EQ(v.kind, "permuted");
  EXPECT_EQ(v.kinds[0].p_value, 1e-40);  // the confirmed experts' layer, not layer 2
  EXPECT_NE(v.kinds[0].evidence.find("2 of 3 experts"), std::string::npos) << v.kinds[0].evidence;
  // Appended to an existing permuted kind, whose p it can only raise.
  add_moved_expert_evidence(v, {{2, 0}}, {{2, 0}}, {{2, 0.5}}, {4, 4, 8, 8});
  ASSERT_EQ(v.kinds.size(), 1u);
  EXPECT_EQ(v.kinds[0].p_value, 0.5);
  // Pruned experts (counts differ): expert_pruned carries the moves; an independent pair gains nothing.
  PairVerdict pruned;
  pruned.overall = VerdictClass::derived;
  add_moved_expert_evidence(pruned, {{1, 2}}, {{1, 2}}, {{1, 1e-40}}, {4, 4, 6, 8});
  EXPECT_TRUE(pruned.kinds.empty());
  PairVerdict independent;
  independent.overall = VerdictClass::independent;
  add_moved_expert_evidence(independent, {{1, 2}}, {{1, 2}}, {{1, 1e-40}}, {4, 4, 8, 8});
  EXPECT_TRUE(independent.kinds.empty());
}

}  // namespace
}  // namespace lineage::stages
