#include "stages/verdict/verdict.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <functional>
#include <random>

#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

constexpr int kPerms = 200;

/// One unit whose permutation tests (h and, for matrices, g) saw `h` against a null N(0, sd),
/// with the p-value the null stage would give it.
UnitEvidence unit(TensorKey key, UnitKind kind, double h, double sd, bool matrix = true) {
  UnitEvidence u;
  u.kind = kind;
  u.key = key;
  u.elements = 1u << 16;
  u.pearson = h;
  u.cosine = h;
  u.hidden_corr = h;
  u.null_mean = 0;
  u.null_sd = sd;
  u.null_perms = kPerms;
  u.null_p = permutation_p(h, 0, sd, kPerms, 0);
  if (matrix) {
    u.basis_corr = h;
    u.basis_null_sd = sd;
    u.basis_perms = kPerms;
    u.basis_null_p = u.null_p;
  }
  return u;
}

/// `layers` same-key units of one role with h from `same`, plus one cross-layer baseline per
/// layer drawn from the null.
void add_role(EvidenceList& out, TensorRole role, int layers, double sd, const std::function<double(int)>& same,
              double rel_l2, double frac_equal, std::mt19937& rng, bool matrix = true) {
  std::normal_distribution<double> null(0.0, sd);
  for (int l = 0; l < layers; ++l) {
    auto u = unit(TensorKey{Component::text, role, l}, UnitKind::same_key, same(l), sd, matrix);
    u.rel_l2 = rel_l2;
    u.frac_equal = frac_equal;
    out.push_back(u);
    out.push_back(unit(TensorKey{Component::text, role, l}, UnitKind::baseline, null(rng), sd, matrix));
  }
}

TEST(Verdict, FinetuneIsDerivedWithItsKindAndPValues) {
  std::mt19937 rng(1);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_q, 8, 0.004, [](int) { return 0.999; }, 0.01, 0.3, rng);
  add_role(
      u, TensorRole::routed_expert, 8, 0.004, [](int) { return 0.998; }, 0.02, 0.3, rng);
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(v.kind.rfind("finetune", 0), 0u) << v.kind;
  EXPECT_LT(v.p_value, 1e-12);
  for (const auto& c : v.components) {
    EXPECT_GT(c.z, 10.0);
    EXPECT_LT(c.p_value, 1e-6);
    EXPECT_EQ(c.significant_units, c.tested_units);
  }
}

TEST(Verdict, EffectsEqualUpToRoundingReportTheSmallerZWhicheverIsLarger) {
  // Two roles both at h = 1 up to rounding (as in a permuted copy), with different null spreads. Which
  // of the two is larger in the last bits must not change the reported z.
  const auto reported_z = [](double q_gap, double k_gap) {
    std::mt19937 rng(7);
    EvidenceList u;
    add_role(
        u, TensorRole::attn_q, 8, 0.004, [&](int) { return 1 - q_gap; }, 0.01, 0.3, rng);
    add_role(
        u, TensorRole::attn_k, 8, 0.01, [&](int) { return 1 - k_gap; }, 0.01, 0.3, rng);
    const auto v = decide_verdict(u);
    EXPECT_EQ(v.components.size(), 1u);
    EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
    return v.components.at(0).z;
  };
  const double q_larger = reported_z(1e-14, 2e-14), k_larger = reported_z(2e-14, 1e-14);
  EXPECT_NEAR(q_larger, k_larger, 1e-6);
  EXPECT_LT(q_larger, 150.0);  // attn_k's spread (about 100 null SDs), not attn_q's (about 250)
  EXPECT_GT(q_larger, 50.0);
}

TEST(Verdict, IndependentNeedsNullLevelAndPower) {
  std::mt19937 rng(2);
  std::normal_distribution<double> noise(0.0, 0.004);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_q, 8, 0.004, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  add_role(
      u, TensorRole::routed_expert, 8, 0.004, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
  for (const auto& c : v.components) EXPECT_TRUE(c.powered) << c.component;
  // Small tensors have a wide null: an effect of 0.1 would be 2 SDs, so nothing can be said.
  std::normal_distribution<double> wide(0.0, 0.05);
  EvidenceList tiny;
  add_role(
      tiny, TensorRole::attn_q, 8, 0.05, [&](int) { return wide(rng); }, 1.4, 0.0, rng);
  v = decide_verdict(tiny);
  EXPECT_EQ(v.overall, VerdictClass::inconclusive) << v.reason;
  EXPECT_FALSE(v.components.at(0).powered);
}

TEST(Verdict, NoEvidenceIsJudgedOverTheWholePair) {
  // One attention unit at p = 5e-5 (Holm over 8 units: 4e-4) and nothing else: alone it is
  // evidence short of the rubric; among four tested components (x4: 1.6e-3) it is what chance
  // gives somewhere in a pair, so the pair is at null level.
  std::mt19937 rng(8);
  std::normal_distribution<double> noise(0.0, 0.004);
  EvidenceList alone;  // same-key units only: no cross-layer calibration
  for (int l = 0; l < 8; ++l) {
    alone.push_back(
        unit({Component::text, TensorRole::attn_q, l}, UnitKind::same_key, l == 0 ? 0.0156 : 0.0, 0.004, false));
  }
  alone[0].null_p = 5e-5;
  const auto a = decide_verdict(alone);
  EXPECT_EQ(a.overall, VerdictClass::inconclusive) << a.reason << " / " << a.components.at(0).reason;
  auto pair = alone;
  for (auto role : {TensorRole::routed_expert, TensorRole::embedding, TensorRole::router}) {
    add_role(
        pair, role, 8, 0.004, [&](int) { return noise(rng) * 0.1; }, 1.4, 0.0, rng);
  }
  const auto v = decide_verdict(pair);
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
}

TEST(Verdict, TheNormTrapIsNotEvidence) {
  // Independent models: raw cosine of norms ~0.99, Spearman at null level -> never derived.
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.004);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_norm, 12, 0.016, [&](int) { return 0.0; }, 0.1, 0.0, rng, false);
  for (auto& e : u) e.cosine = 0.99;
  add_role(
      u, TensorRole::attn_q, 12, 0.004, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
}

TEST(Verdict, SignificantButSmallIsNotDerived) {
  // h = 0.05 at 50 null SDs: certainly not chance, but below the weakest derivation the rubric
  // accepts (shared data or a shared tokenizer can leave traces that small).
  std::mt19937 rng(4);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_q, 8, 0.001, [](int) { return 0.05; }, 1.4, 0.0, rng);
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::inconclusive) << v.reason;
  EXPECT_LT(v.components.at(0).p_value, 1e-6);
  EXPECT_NE(v.components.at(0).reason.find("too small"), std::string::npos) << v.components.at(0).reason;
}

TEST(Verdict, CrossLayerBaselinesWidenThePermutationNull) {
  // The permutation null says SD 0.004, but the cross-layer baselines spread 6x wider: a unit
  // at h = 0.12 (30 permutation SDs) is then only about 5 SDs out, short of the rubric's 10. (h
  // only: cross-layer baselines are no null for g, so these units carry no g test.)
  std::mt19937 rng(5);
  std::normal_distribution<double> wide(0.0, 0.024);
  EvidenceList u;
  for (int l = 0; l < 12; ++l) {
    const TensorKey k{Component::text, TensorRole::attn_q, l};
    u.push_back(unit(k, UnitKind::same_key, 0.12, 0.004, false));
    u.push_back(unit(k, UnitKind::baseline, wide(rng), 0.004, false));
  }
  const auto v = decide_verdict(u);
  ASSERT_EQ(v.components.size(), 1u);
  EXPECT_TRUE(v.components[0].cross_layer_null);
  EXPECT_NE(v.overall, VerdictClass::derived) << v.reason;
  // Without the baselines the same units are derived.
  EvidenceList same_only;
  for (const auto& e : u) {
    if (e.kind == UnitKind::same_key) same_only.push_back(e);
  }
  EXPECT_EQ(decide_verdict(same_only).overall, VerdictClass::derived);
}

TEST(Verdict, TrueMatchesAmongTheBaselinesDoNotWidenTheNull) {
  // A repeated layer makes a few "other layer" baselines true matches (h ~ 1): the robust
  // calibration (median, MAD) ignores them, so the matching units stay derived.
  std::mt19937 rng(9);
  std::normal_distribution<double> null(0.0, 0.004);
  EvidenceList u;
  for (int l = 0; l < 12; ++l) {
    const TensorKey k{Component::text, TensorRole::attn_q, l};
    u.push_back(unit(k, UnitKind::same_key, 0.9, 0.004, false));
    u.push_back(unit(k, UnitKind::baseline, l % 4 == 0 ? 0.95 : null(rng), 0.004, false));
  }
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_GT(v.components.at(0).z, 100.0);
}

TEST(Verdict, IdenticalPartialReuseAndPermuted) {
  std::mt19937 rng(6);
  std::normal_distribution<double> noise(0.0, 0.004);
  EvidenceList same;
  add_role(
      same, TensorRole::attn_q, 4, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(
      same, TensorRole::embedding, 1, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  EXPECT_EQ(decide_verdict(same).overall, VerdictClass::identical);

  EvidenceList partial;  // attention copied, experts independent
  add_role(
      partial, TensorRole::attn_q, 8, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(
      partial, TensorRole::routed_expert, 8, 0.004, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  const auto p = decide_verdict(partial);
  EXPECT_EQ(p.overall, VerdictClass::partial_reuse) << p.reason;
  EXPECT_EQ(p.reused_components, std::vector<std::string>{"attention"});

  // Experts shuffled: h sees nothing per unit, but g (unchanged by the permutation) does.
  EvidenceList permuted;
  add_role(
      permuted, TensorRole::attn_q, 8, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  for (int l = 0; l < 8; ++l) {
    auto e = unit(TensorKey{Component::text, TensorRole::routed_expert, l}, UnitKind::same_key, 0.0, 0.004);
    e.basis_corr = 0.6;
    e.basis_null_p = permutation_p(0.6, 0, 0.004, kPerms, 0);
    permuted.push_back(e);
  }
  const auto pv = decide_verdict(permuted);
  EXPECT_EQ(pv.overall, VerdictClass::derived) << pv.reason;
}

/// Units of an identical pair: every tensor value-equal, with its raw bytes.
EvidenceList identical_pair() {
  EvidenceList u;
  for (auto role : {TensorRole::attn_q, TensorRole::routed_expert, TensorRole::embedding}) {
    for (int l = 0; l < 4; ++l) {
      auto e = unit(TensorKey{Component::text, role, role == TensorRole::embedding ? -1 : l}, UnitKind::same_key, 1.0,
                    0.004);
      e.frac_equal = 1.0;
      e.bytes_equal = true;
      u.push_back(e);
      if (role == TensorRole::embedding) break;
    }
  }
  return u;
}

TEST(VerdictNonFinite, NaNsWrittenIntoHalfTheSuspectAreNeverIdentical) {
  // The parent with every other value replaced by NaN: the finite half still equals the parent.
  auto u = identical_pair();
  for (auto& e : u) {
    e.bytes_equal = false;
    e.nonfinite = e.nonfinite_a = e.nonfinite_mismatch = e.elements;  // as many NaN as finite
  }
  const auto v = decide_verdict(u);
  EXPECT_NE(v.overall, VerdictClass::identical) << v.reason;
  EXPECT_NE(v.overall, VerdictClass::independent) << v.reason;
  EXPECT_NE(v.reason.find("too few finite values"), std::string::npos) << v.reason;
  EXPECT_EQ(v.nonfinite.suspect, v.nonfinite.elements / 2);
  EXPECT_EQ(v.nonfinite.other, 0u);
  EXPECT_NEAR(v.nonfinite.finite_share(), 0.5, 1e-12);
  for (const auto& c : v.components) {
    EXPECT_TRUE(c.too_few_finite) << c.component;
    EXPECT_FALSE(c.informative) << c.component;
  }
}

TEST(VerdictNonFinite, OneExpertOfInfinityMakesItsComponentInconclusiveAndThePairNotIdentical) {
  auto u = identical_pair();
  for (auto& e : u) {
    if (e.key.role != TensorRole::routed_expert || e.key.layer != 2) continue;
    e.bytes_equal = false;
    e.nonfinite = e.nonfinite_a = e.nonfinite_mismatch = e.elements;  // the whole unit is +Inf
    e.elements = 0;
    e.frac_equal = std::numeric_limits<double>::quiet_NaN();
  }
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_NE(v.kind.find("nonfinite_modified"), std::string::npos) << v.kind;
  EXPECT_NE(v.reason.find("routed_experts"), std::string::npos) << v.reason;
  for (const auto& c : v.components) {
    EXPECT_EQ(c.too_few_finite, c.component == "routed_experts") << c.component;
    if (c.component != "routed_experts") {
      EXPECT_EQ(c.verdict, VerdictClass::identical) << c.component;
    }
  }
}

TEST(VerdictNonFinite, AFewNaNsOnOneSideOnlyAreAModificationNotIdentity) {
  auto u = identical_pair();
  u[0].bytes_equal = false;
  u[0].nonfinite = u[0].nonfinite_b = u[0].nonfinite_mismatch = 3;  // the other model has 3 NaN
  const auto v = decide_verdict(u);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_NE(v.kind.find("nonfinite_modified"), std::string::npos) << v.kind;
  EXPECT_EQ(v.nonfinite.other, 3u);
  EXPECT_EQ(v.nonfinite.mismatch, 3u);

  // The same NaNs on both sides (the bytes agree) are identity.
  auto w = identical_pair();
  w[0].nonfinite = w[0].nonfinite_a = w[0].nonfinite_b = 3;
  EXPECT_EQ(decide_verdict(w).overall, VerdictClass::identical);
}

TEST(Verdict, TheParentMustStandOutFromTheControls) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.004);
  EvidenceList parent_units, control_units, close_control_units;
  add_role(
      parent_units, TensorRole::attn_q, 8, 0.004, [](int) { return 0.9; }, 0.3, 0.0, rng);
  add_role(
      control_units, TensorRole::attn_q, 8, 0.004, [&](int) { return noise(rng); }, 1.4, 0.0, rng);
  add_role(
      close_control_units, TensorRole::attn_q, 8, 0.004, [](int) { return 0.88; }, 0.3, 0.0, rng);

  auto parent = decide_verdict(parent_units);
  ASSERT_EQ(parent.overall, VerdictClass::derived);
  const auto cal = calibrate_with_controls(parent, {{"control1", decide_verdict(control_units)}});
  EXPECT_TRUE(cal.stands_out);
  EXPECT_EQ(parent.overall, VerdictClass::derived);
  EXPECT_GT(cal.margin_sds, 100.0);

  // A control as close as the parent: the similarity is not specific to the parent.
  auto parent2 = decide_verdict(parent_units);
  const auto cal2 = calibrate_with_controls(
      parent2, {{"control1", decide_verdict(control_units)}, {"control2", decide_verdict(close_control_units)}});
  EXPECT_FALSE(cal2.stands_out);
  EXPECT_EQ(cal2.best_control, "control2");
  EXPECT_EQ(parent2.overall, VerdictClass::inconclusive) << parent2.reason;
  EXPECT_NE(parent2.reason.find("does not stand out"), std::string::npos);
}

}  // namespace
}  // namespace lineage::stages

namespace lineage::stages {
namespace {

std::vector<std::string> kinds_of(const PairVerdict& v) {
  std::vector<std::string> out;
  for (const auto& k : v.kinds) out.push_back(k.kind);
  return out;
}

TEST(VerdictKinds, FinetunePlusPermutedExperts) {
  std::mt19937 rng(11);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_q, 8, 0.004, [](int) { return 0.99; }, 0.1, 0.0, rng);
  for (int l = 0; l < 8; ++l) {  // experts moved: same basis (g), nothing in place (h)
    auto e = unit(TensorKey{Component::text, TensorRole::routed_expert, l, 0, Projection::up}, UnitKind::same_key, 0.0,
                  0.004);
    e.basis_corr = 0.6;
    e.basis_null_p = permutation_p(0.6, 0, 0.004, kPerms, 0);
    e.rel_l2 = 1.4;
    u.push_back(e);
  }
  const auto v = decide_verdict(u);
  ASSERT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(kinds_of(v), (std::vector<std::string>{"finetune", "permuted"}));
  EXPECT_EQ(v.kind, "finetune + permuted");
  for (const auto& k : v.kinds) EXPECT_FALSE(k.evidence.empty());
  // Continued pre-training moved the attention by more than a fifth of its norm.
  for (auto& e : u) {
    if (e.key.role == TensorRole::attn_q) e.rel_l2 = 0.5;
  }
  EXPECT_EQ(decide_verdict(u).kind, "continued_pretrain + permuted");
}

TEST(VerdictKinds, ASmallSignificantHIsNotSameIndexEvidence) {
  // Experts whose neurons were permuted, with a few neurons left where they were: h is
  // significant but far below min_effect. The copied attention says nothing was trained, so the
  // experts' element-wise change sizes no training kind, and their shared basis says permuted.
  std::mt19937 rng(13);
  EvidenceList u;
  add_role(
      u, TensorRole::attn_q, 8, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  for (auto& e : u) e.bytes_equal = e.kind == UnitKind::same_key;
  for (int l = 0; l < 8; ++l) {
    auto e = unit(TensorKey{Component::text, TensorRole::routed_expert, l, 0, Projection::up}, UnitKind::same_key, 0.06,
                  0.004);
    e.basis_corr = 1.0;
    e.basis_null_p = permutation_p(1.0, 0, 0.004, kPerms, 0);
    e.rel_l2 = 1.36;
    u.push_back(e);
  }
  const auto v = decide_verdict(u);
  ASSERT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(kinds_of(v), (std::vector<std::string>{"permuted"})) << v.kind;
  const auto experts = std::find_if(v.components.begin(), v.components.end(),
                                    [](const auto& c) { return c.component == "routed_experts"; });
  ASSERT_NE(experts, v.components.end());
  EXPECT_FALSE(experts->hidden_significant);
  // The same h at 0.5 is same-index evidence: trained experts, no permutation.
  for (auto& e : u) {
    if (e.key.role == TensorRole::routed_expert) {
      e.hidden_corr = 0.5;
      e.null_p = permutation_p(0.5, 0, 0.004, kPerms, 0);
    }
  }
  EXPECT_TRUE(kinds_of(decide_verdict(u)).empty()) << decide_verdict(u).kind;
}

TEST(VerdictKinds, UpcycledPrunedAndDepthFromTheLayout) {
  std::mt19937 rng(12);
  EvidenceList up;
  add_role(
      up, TensorRole::attn_q, 4, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);  // copied attention
  for (int l = 0; l < 4; ++l) {
    for (int e = 0; e < 4; ++e) {
      up.push_back(unit(TensorKey{Component::text, TensorRole::routed_expert, l, e, Projection::up},
                        UnitKind::cross_role, 0.95, 0.004));
    }
  }
  auto v = decide_verdict(up);
  ASSERT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(v.kind, "upcycled");

  EvidenceList pruned;
  add_role(
      pruned, TensorRole::attn_q, 4, 0.004, [](int) { return 1.0; }, 0.0, 1.0, rng);
  add_role(
      pruned, TensorRole::routed_expert, 4, 0.004, [](int l) { return l % 2 ? 1.0 : 0.0; }, 0.5, 0.5, rng);
  PairLayout layout{4, 4, 6, 8};
  v = decide_verdict(pruned, 8, {}, layout);
  ASSERT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(v.kind, "expert_pruned");

  // Layers [0, 1, 1, 2] of a 3-layer model: norm vectors show which layer each one repeats.
  EvidenceList deeper;
  const std::vector<int> source{0, 1, 1, 2};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double h = source[static_cast<std::size_t>(i)] == j ? 0.99 : 0.4;
      auto e = unit(TensorKey{Component::text, TensorRole::mlp_norm, i},
                    i == j ? UnitKind::same_key : UnitKind::baseline, h, 0.02, false);
      e.other_layer = j;
      if (i < 3 || i == j) deeper.push_back(e);
      if (i == 3 && j != 3) deeper.push_back(e);
    }
  }
  add_role(
      deeper, TensorRole::attn_q, 3, 0.004, [](int l) { return l < 2 ? 1.0 : 0.0; }, 0.0, 1.0, rng);
  v = decide_verdict(deeper, 4, {}, PairLayout{4, 3, 0, 0});
  ASSERT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(v.kind, "depth_upscaled");
  EXPECT_EQ(v.layer_map, source);
}

/// Norm units of a suspect of `source.size()` layers whose layer i repeats the other's layer
/// source[i] (h 0.99 there, 0.4 elsewhere), every layer pair observed.
EvidenceList norm_grid(const std::vector<int>& source, int other_layers) {
  EvidenceList out;
  for (int i = 0; i < static_cast<int>(source.size()); ++i) {
    for (int j = 0; j < other_layers; ++j) {
      const double h = source[static_cast<std::size_t>(i)] == j ? 0.99 : 0.4;
      auto e = unit(TensorKey{Component::text, TensorRole::mlp_norm, i},
                    i == j ? UnitKind::same_key : UnitKind::baseline, h, 0.02, false);
      e.other_layer = j;
      out.push_back(e);
    }
  }
  return out;
}

TEST(VerdictKinds, TheLayerMapCarriesALayerShuffleTestOfItsOrder) {
  std::mt19937 rng(13);
  // 24 layers up-scaled to 36 (every other layer repeated), in order: a shuffle of the other
  // model's layers almost never keeps 23 forward steps.
  std::vector<int> kept;
  for (int l = 0; l < 24; ++l) {
    kept.push_back(l);
    if (l % 2) kept.push_back(l);
  }
  auto units = norm_grid(kept, 24);
  add_role(
      units, TensorRole::attn_q, 24, 0.004, [](int) { return 1.0; }, 0.01, 0.5, rng);
  auto v = decide_verdict(units, 12, {}, PairLayout{36, 24, 0, 0});
  ASSERT_EQ(v.layer_map, kept);
  EXPECT_EQ(v.layer_map_steps, 23);
  EXPECT_LT(v.layer_map_p, 0.002);
  const auto depth =
      std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "depth_upscaled"; });
  ASSERT_NE(depth, v.kinds.end());
  // The kind rests on the monotone map of the norms (stages/align/layer_alignment.hpp): the same
  // map, repeats included, and its own layer-shuffle p.
  ASSERT_FALSE(v.layer_alignment.empty());
  const auto& norms = v.layer_alignment.front();
  ASSERT_EQ(norms.family, "norms");
  EXPECT_EQ(norms.centred.layer_map, kept);
  EXPECT_EQ(norms.centred.segments, 1);
  EXPECT_TRUE(norms.centred.claimed);
  EXPECT_EQ(depth->p_value, norms.centred.map_p);
  EXPECT_LT(depth->p_value, 0.002);
  EXPECT_NE(depth->evidence.find("new 0..35 <- old [0,1,1,2,3,3,"), std::string::npos) << depth->evidence;

  // The same layers in a scrambled order: each layer still matches one of the other's, but the
  // order is not kept, and the shuffle test says so.
  std::vector<int> scrambled = kept;
  std::shuffle(scrambled.begin(), scrambled.end(), rng);
  units = norm_grid(scrambled, 24);
  add_role(
      units, TensorRole::attn_q, 24, 0.004, [](int) { return 1.0; }, 0.01, 0.5, rng);
  v = decide_verdict(units, 12, {}, PairLayout{36, 24, 0, 0});
  ASSERT_EQ(v.layer_map, scrambled);
  EXPECT_GT(v.layer_map_p, 0.01);
  // No monotone map explains a scrambled order beyond what a shuffle gives.
  ASSERT_FALSE(v.layer_alignment.empty());
  EXPECT_FALSE(v.layer_alignment.front().centred.claimed);
  EXPECT_GT(v.layer_alignment.front().centred.map_p, 0.01);
}

TEST(VerdictKinds, IndependentModelsReportNoLayerAlignment) {
  // Norm vectors of two unrelated 16-layer models: every cell at the null, none standing out.
  std::mt19937 rng(21);
  std::normal_distribution<double> null(0.0, 0.02);
  EvidenceList units;
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      auto e = unit(TensorKey{Component::text, TensorRole::mlp_norm, i},
                    i == j ? UnitKind::same_key : UnitKind::baseline, null(rng), 0.02, false);
      e.other_layer = j;
      units.push_back(e);
    }
  }
  add_role(
      units, TensorRole::attn_q, 16, 0.004, [&](int) { return null(rng) / 5; }, 1.0, 0.0, rng);
  const auto v = decide_verdict(units, 0, {}, PairLayout{16, 16, 0, 0});
  ASSERT_EQ(v.overall, VerdictClass::independent) << v.reason;
  ASSERT_EQ(v.layer_alignment.size(), 2u);
  for (const auto& f : v.layer_alignment) {
    EXPECT_FALSE(f.centred.claimed) << f.family;
    EXPECT_GT(f.centred.alignment_p, 0.01) << f.family;
  }
  const auto& norms = v.layer_alignment.front();
  EXPECT_EQ(norms.family, "norms");
  EXPECT_GT(norms.centred.map_p, 0.01);
  EXPECT_EQ(norms.centred.cells_stored, 256u);
  // attn_q: only the diagonal is stored (these baselines name no other layer), 240 cells missing.
  EXPECT_EQ(v.layer_alignment[1].family, "attention");
  EXPECT_EQ(v.layer_alignment[1].centred.cells_missing, 240u);
}

/// The joint test's relabellings the units below view, as a store holds them (UnitEvidence's
/// joint_null is a view): kept for the whole test program.
std::deque<std::vector<float>>& kept_relabellings() {
  static std::deque<std::vector<float>> kept;
  return kept;
}

/// A small attention unit of layer `layer` as the compare pass would store it: h, g and their
/// nulls from hidden_null on the two [32, 64] matrices, with the joint test's relabellings.
UnitEvidence small_unit(int layer, const std::vector<float>& a, const std::vector<float>& b) {
  constexpr std::uint64_t rows = 32, cols = 64;
  NullOptions options;
  options.joint_relabellings = kJointRelabellings;
  const auto r = hidden_null(a, b, rows, cols, NullAxis::cols, static_cast<std::uint64_t>(layer), options);
  UnitEvidence u;
  u.kind = UnitKind::same_key;
  u.key = TensorKey{Component::text, TensorRole::attn_q, layer};
  u.elements = rows * cols;
  u.rows = rows;
  u.cols = cols;
  u.rel_l2 = 1.4;
  u.hidden_corr = r.hidden.observed;
  u.null_mean = r.hidden.null_mean;
  u.null_sd = r.hidden.null_sd;
  u.null_p = r.hidden.p;
  u.basis_corr = r.basis.observed;
  u.basis_null_mean = r.basis.null_mean;
  u.basis_null_sd = r.basis.null_sd;
  u.basis_null_p = r.basis.p;
  u.basis_perms = r.basis.permutations;
  u.joint_null = kept_relabellings().emplace_back(r.joint);
  return u;
}

std::vector<float> gaussian(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

TEST(VerdictJoint, SmallUnitsPooledOverLayersHavePowerTheirOwnTestsLack) {
  // 16 layers of [32 x 64] attention matrices: one unit's h null SD is about 1/sqrt(2048) = 0.022,
  // so h = 0.1 would stand at 4.5 SDs: no unit alone can show independence with power.
  std::mt19937 rng(7);
  EvidenceList independent, weak, copies;
  const auto a0 = gaussian(2048, rng), b0 = gaussian(2048, rng);
  for (int layer = 0; layer < 16; ++layer) {
    const auto a = gaussian(2048, rng), b = gaussian(2048, rng);
    independent.push_back(small_unit(layer, a, b));
    // A weak derivation: the other model's matrix is the suspect's under noise 6 times larger
    // (h about 1/sqrt(37) = 0.16, 7 null SDs in each unit).
    auto d = a;
    const auto noise = gaussian(2048, rng);
    for (std::size_t i = 0; i < d.size(); ++i) d[i] += 6.0f * noise[i];
    weak.push_back(small_unit(layer, a, d));
    // The same independent pair in every layer: 16 copies are one unit's evidence, not 16.
    copies.push_back(small_unit(layer, a0, b0));
  }
  auto v = decide_verdict(independent);
  ASSERT_EQ(v.components.size(), 1u);
  EXPECT_EQ(v.components[0].joint_tests, 1u);
  EXPECT_TRUE(v.components[0].powered) << v.components[0].reason;
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
  // Without the joint test (a store without its relabellings) the same units lack power.
  auto without = independent;
  for (auto& u : without) u.joint_null = {};
  v = decide_verdict(without);
  EXPECT_FALSE(v.components[0].powered);
  EXPECT_EQ(v.overall, VerdictClass::inconclusive) << v.reason;

  v = decide_verdict(weak);
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_LT(v.p_value, 1e-6);
  EXPECT_GT(v.components[0].z, 10.0);
  // Each unit alone: significant, but under 10 SDs.
  auto weak_alone = weak;
  for (auto& u : weak_alone) u.joint_null = {};
  v = decide_verdict(weak_alone);
  EXPECT_NE(v.overall, VerdictClass::derived) << v.reason;

  // Copies: the joint null widens with them (one relabelling moves every copy alike), so the
  // pooled test has no more power than one unit's.
  v = decide_verdict(copies);
  EXPECT_FALSE(v.components[0].powered) << v.components[0].reason;
  EXPECT_NE(v.overall, VerdictClass::independent) << v.reason;
  EXPECT_NE(v.overall, VerdictClass::derived) << v.reason;
}

}  // namespace
}  // namespace lineage::stages
