#include "stages/verdict/verdict.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace lineage::stages {
namespace {

/// Units of one role: `layers` same-key units with Pearson from `same` plus cross-layer baselines
/// drawn from the null N(0, 1/sqrt(n)).
void add_role(std::vector<UnitEvidence>& out, TensorRole role, int layers, std::uint64_t n,
              const std::function<double(int)>& same, double rel_l2, double frac_equal, std::mt19937& rng,
              Component comp = Component::text) {
  std::normal_distribution<double> null(0.0, 1.0 / std::sqrt(static_cast<double>(n)));
  for (int l = 0; l < layers; ++l) {
    UnitEvidence u;
    u.key = TensorKey{comp, role, l};
    u.elements = n;
    u.pearson = same(l);
    u.cosine = u.pearson;
    u.rel_l2 = rel_l2;
    u.frac_equal = frac_equal;
    out.push_back(u);
    UnitEvidence b = u;
    b.kind = UnitRole::baseline;
    b.pearson = null(rng);
    out.push_back(b);
  }
}

TEST(Verdict, FinetuneIsDerivedWithItsKind) {
  std::mt19937 rng(1);
  std::vector<UnitEvidence> u;
  add_role(u, TensorRole::attn_q, 8, 4096, [](int) { return 0.999; }, 0.01, 0.3, rng);
  add_role(u, TensorRole::routed_expert, 8, 2048, [](int) { return 0.998; }, 0.02, 0.3, rng);
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(v.kind.rfind("finetune", 0), 0u) << v.kind;
  for (const auto& c : v.components) EXPECT_GT(c.z, 10.0);
}

TEST(Verdict, IndependentNeedsNullLevelAndPower) {
  std::mt19937 rng(2);
  std::normal_distribution<double> noise(0.0, 1.0 / 64.0);
  std::vector<UnitEvidence> u;
  add_role(u, TensorRole::attn_q, 8, 4096, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  add_role(u, TensorRole::routed_expert, 8, 4096, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
  // Tiny tensors have no power: 16 elements -> null SD 0.25, a 0.5 effect would be invisible.
  std::vector<UnitEvidence> tiny;
  add_role(tiny, TensorRole::attn_q, 8, 16, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  v = decide_verdict(tiny);
  EXPECT_EQ(v.overall, VerdictClass::inconclusive) << v.reason;
}

TEST(Verdict, TheNormTrapIsNotEvidence) {
  // Independent models: raw cosine of norms ~0.99, Pearson at null level -> never derived.
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0 / 64.0);
  std::vector<UnitEvidence> u;
  add_role(u, TensorRole::attn_norm, 12, 4096, [&](int) { return noise(rng); }, 0.1, 0.0, rng);
  for (auto& e : u) e.cosine = 0.99;
  add_role(u, TensorRole::attn_q, 12, 4096, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  const auto v = decide_verdict(u);
  EXPECT_NE(v.overall, VerdictClass::derived);
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
}

TEST(Verdict, IdenticalPartialReuseAndPermuted) {
  std::mt19937 rng(4);
  std::normal_distribution<double> noise(0.0, 1.0 / 64.0);
  std::vector<UnitEvidence> same;
  add_role(same, TensorRole::attn_q, 4, 4096, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(same, TensorRole::embedding, 1, 4096, [](int) { return 1.0; }, 0.0, 1.0, rng);
  EXPECT_EQ(decide_verdict(same).overall, VerdictClass::identical);

  std::vector<UnitEvidence> partial;  // attention copied, experts independent
  add_role(partial, TensorRole::attn_q, 8, 4096, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(partial, TensorRole::routed_expert, 8, 4096, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  const auto p = decide_verdict(partial);
  EXPECT_EQ(p.overall, VerdictClass::partial_reuse) << p.reason;
  EXPECT_EQ(p.reused_components, std::vector<std::string>{"attention"});

  std::vector<UnitEvidence> permuted;  // experts shuffled: same-key experts look unrelated per unit
  add_role(permuted, TensorRole::attn_q, 8, 4096, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(permuted, TensorRole::routed_expert, 8, 4096, [](int l) { return l % 4 == 0 ? 1.0 : 0.0; }, 1.0, 0.2,
           rng);
  EXPECT_NE(decide_verdict(permuted).overall, VerdictClass::independent);
}

}  // namespace
}  // namespace lineage::stages
