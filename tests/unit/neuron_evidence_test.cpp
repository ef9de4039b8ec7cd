#include "stages/verdict/neuron_evidence.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "stages/execute/unit_stats.hpp"

namespace lineage::stages {
namespace {

/// A store with one pair (0 vs 1) and the gate, up and down units of the dense MLP of layer 0,
/// whose matchings map the 64 sampled neurons of 256 through `maps[projection]`.
io::StoreContents store_with(const std::vector<std::vector<std::uint64_t>>& maps, double p) {
  io::StoreContents c;
  c.models.resize(2);
  c.stat_names = unit_stat_names();
  const char* projections[] = {"gate", "up", "down"};
  std::vector<std::uint64_t> sampled(64);
  std::iota(sampled.begin(), sampled.end(), 100u);
  for (std::uint64_t i = 0; i < maps.size(); ++i) {
    const std::string key = std::string("text/dense_mlp/L0/") + projections[i];
    const bool down = i == 2;
    c.units.push_back({i, UnitKind::same_key, parse_tensor_key(key), parse_tensor_key(key), "t", "t", 0, 1, 0, 0, -1,
                       down ? 64u : 256u, down ? 256u : 64u});
    UnitStats st;
    st.neuron_sampled = 64;
    st.neuron_in_place = 0;
    for (std::size_t k = 0; k < 64; ++k) st.neuron_in_place += maps[i][k] == sampled[k] ? 1 : 0;
    st.neuron.observed = 0.9;
    st.neuron.null_sd = 0.01;
    st.neuron.p = p;
    c.done_ids.push_back(i);
    append_stat_columns(c.stats, st);
    c.hash_a.push_back(1);
    c.hash_b.push_back(2);
    c.neuron_matches.put(i, sampled, maps[i]);
  }
  return c;
}

std::vector<std::uint64_t> shuffled(std::uint32_t seed) {
  std::vector<std::uint64_t> all(256);
  std::iota(all.begin(), all.end(), 0u);
  std::shuffle(all.begin(), all.end(), std::mt19937(seed));
  return {all.begin(), all.begin() + 64};
}

TEST(NeuronEvidence, AgreeingMatchingsOfGateUpAndDownArePermutedNeurons) {
  const auto sigma = shuffled(1);
  const auto c = store_with({sigma, sigma, sigma}, 1e-30);
  const auto m = neuron_matchings(c, 0, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].role, "dense_mlp");
  EXPECT_EQ(m[0].projections.size(), 3u);
  EXPECT_EQ(m[0].agree, 64u);
  EXPECT_LT(m[0].agreement_p, 1e-100);
  EXPECT_TRUE(m[0].matched);
  EXPECT_TRUE(m[0].permuted);
  EXPECT_EQ(m[0].recovered[5], static_cast<std::int64_t>(sigma[5]));
  // The permuted kind gains the evidence; the class stays.
  PairVerdict v;
  v.overall = VerdictClass::derived;
  v.kinds.push_back({"finetune", "attention", 1e-9});
  v.kind = "finetune";
  add_permutation_evidence(v, m, {});
  EXPECT_EQ(v.kind, "finetune + permuted");
  EXPECT_NE(v.kinds.back().evidence.find("neurons permuted in 1 of 1"), std::string::npos) << v.kinds.back().evidence;
  // Not for a pair that is not derived.
  PairVerdict ind;
  ind.overall = VerdictClass::independent;
  add_permutation_evidence(ind, m, {});
  EXPECT_TRUE(ind.kinds.empty());
}

TEST(NeuronEvidence, InPlaceOrDisagreeingMatchingsAreNotPermutations) {
  std::vector<std::uint64_t> same(64);
  std::iota(same.begin(), same.end(), 100u);
  auto m = neuron_matchings(store_with({same, same, same}, 1e-30), 0, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].matched);
  EXPECT_FALSE(m[0].permuted);
  // Independent matchings (another expert or layer in a shared hidden basis): significant T
  // alone is not enough.
  m = neuron_matchings(store_with({shuffled(2), shuffled(3), shuffled(4)}, 1e-30), 0, 1);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_GT(m[0].agreement_p, 1e-3);
  EXPECT_FALSE(m[0].matched);
  EXPECT_FALSE(m[0].permuted);
  // A hub: every sampled neuron of gate and up matched to neuron 0 agrees "everywhere", but as
  // often across different sampled neurons, so it is chance.
  const std::vector<std::uint64_t> hub(64, 0);
  m = neuron_matchings(store_with({hub, hub}, 1e-30), 0, 1);
  EXPECT_GT(m[0].agreement_p, 0.5);
  EXPECT_FALSE(m[0].matched);
  // Agreeing but not significant held-out statistics.
  const auto sigma = shuffled(5);
  m = neuron_matchings(store_with({sigma, sigma, sigma}, 0.2), 0, 1);
  EXPECT_FALSE(m[0].matched);
}

TEST(NeuronEvidence, ExpertsMatchedToTheDenseMlpAreUpcyclingEvidence) {
  // The same matchings stored as cross-role units (routed expert 3 of layer 0 against the
  // other model's dense MLP): read only with expert_to_dense, and the other way round.
  const auto sigma = shuffled(7);
  auto c = store_with({sigma, sigma, sigma}, 1e-30);
  for (auto& u : c.units) {
    u.kind = UnitKind::cross_role;
    u.key_a.role = TensorRole::routed_expert;
    u.key_a.expert = 3;
  }
  EXPECT_TRUE(neuron_matchings(c, 0, 1).empty());
  const auto up = neuron_matchings(c, 0, 1, 1e-6, NeuronPairing::expert_to_dense);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].role, "routed_expert");
  EXPECT_EQ(up[0].expert, 3);
  EXPECT_TRUE(up[0].matched);
  EXPECT_TRUE(up[0].permuted);
  EXPECT_TRUE(
      neuron_matchings(store_with({sigma, sigma, sigma}, 1e-30), 0, 1, 1e-6, NeuronPairing::expert_to_dense).empty());

  // A derived pair gains the kind, with the shuffled count; an existing kind gains the evidence.
  PairVerdict v;
  v.overall = VerdictClass::derived;
  add_upcycling_evidence(v, up);
  ASSERT_EQ(v.kinds.size(), 1u);
  EXPECT_EQ(v.kind, "upcycled");
  EXPECT_NE(v.kinds[0].evidence.find("1 of 1 experts match the dense MLP"), std::string::npos) << v.kinds[0].evidence;
  EXPECT_NE(v.kinds[0].evidence.find("1 with their neurons shuffled"), std::string::npos) << v.kinds[0].evidence;
  EXPECT_LE(v.kinds[0].p_value, 1e-6);
  PairVerdict w;
  w.overall = VerdictClass::derived;
  w.kinds.push_back({"upcycled", "8 of 8 expert projections match", 1e-40});
  add_upcycling_evidence(w, up);
  ASSERT_EQ(w.kinds.size(), 1u);
  EXPECT_EQ(w.kinds[0].p_value, 1e-40);
  EXPECT_NE(w.kinds[0].evidence.find("; neuron by neuron"), std::string::npos);
  // Never for unmatched neurons, nor for a pair that is not derived.
  auto unmatched = neuron_matchings(c, 0, 1, 1e-40, NeuronPairing::expert_to_dense);
  PairVerdict x;
  x.overall = VerdictClass::derived;
  add_upcycling_evidence(x, unmatched);
  EXPECT_TRUE(x.kinds.empty());
  PairVerdict independent;
  independent.overall = VerdictClass::independent;
  add_upcycling_evidence(independent, up);
  EXPECT_TRUE(independent.kinds.empty());
}

TEST(NeuronEvidence, BinomialTail) {
  EXPECT_DOUBLE_EQ(binomial_upper_tail(0, 10, 0.3), 1.0);
  EXPECT_NEAR(binomial_upper_tail(1, 10, 0.1), 1.0 - std::pow(0.9, 10), 1e-12);
  EXPECT_NEAR(binomial_upper_tail(10, 10, 0.5), std::pow(0.5, 10), 1e-15);
  EXPECT_EQ(binomial_upper_tail(11, 10, 0.5), 0.0);
}

}  // namespace
}  // namespace lineage::stages
