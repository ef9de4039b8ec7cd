// The second phase of compare (issue 10): matched_expert units are planned for the experts a
// significant sketch matching moves, not for experts matched in place, and none for an
// unrelated model; the verdict judges them in place of the moved experts' same-key units.
#include "stages/plan/matched_experts.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/errors.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/verdict/matched_expert_verdict.hpp"

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
  std::map<std::uint64_t, std::pair<std::vector<float>, std::vector<float>>> sketches;
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
      out.sketches[u.id] = {suspect[p], parent[e][p]};
      out.units.push_back(u);
    }
  }
  return out;
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
    EXPECT_FALSE(u.sketch);
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

TEST(MatchedExperts, TheVerdictJudgesMatchedUnitsInPlaceOfTheMovedExpertsSameKeyUnits) {
  std::vector<UnitEvidence> units(4);
  for (auto& u : units) {
    u.key.role = TensorRole::routed_expert;
    u.key.layer = 1;
    u.key.projection = Projection::up;
  }
  units[0].key.expert = 0;  // in place: kept
  units[1].key.expert = 1;  // moved: its same-key unit gives way
  units[1].pearson = 0.01;
  units[2].key.expert = 1;
  units[2].kind = UnitKind::matched_expert;
  units[2].pearson = 0.99;
  units[3].kind = UnitKind::baseline;
  const auto judged = route_matched_experts(units);
  ASSERT_EQ(judged.size(), 3u);
  EXPECT_EQ(judged[0].key.expert, 0);
  EXPECT_EQ(judged[1].kind, UnitKind::same_key);
  EXPECT_EQ(judged[1].pearson, 0.99);
  EXPECT_EQ(judged[2].kind, UnitKind::baseline);
}

}  // namespace
}  // namespace lineage::stages
