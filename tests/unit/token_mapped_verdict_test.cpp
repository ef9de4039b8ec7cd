#include "stages/verdict/token_mapped_verdict.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "stages/null/hidden_null.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {
namespace {

constexpr int kPerms = 100;

UnitEvidence unit(TensorKey key, UnitKind kind, double h, double sd) {
  UnitEvidence u;
  u.kind = kind;
  u.key = key;
  u.elements = 1u << 16;
  u.pearson = u.cosine = u.hidden_corr = u.basis_corr = h;
  u.null_sd = u.basis_null_sd = sd;
  u.null_perms = u.basis_perms = kPerms;
  u.null_p = u.basis_null_p = permutation_p(h, 0, sd, kPerms, 0);
  u.rel_l2 = h > 0.5 ? 0.05 : 1.4;
  return u;
}

/// Attention of 4 layers at `h` (with cross-layer baselines from the null).
EvidenceList attention(double h, std::mt19937& rng) {
  std::normal_distribution<double> null(0.0, 0.004);
  EvidenceList out;
  for (int l = 0; l < 4; ++l) {
    out.push_back(unit({Component::text, TensorRole::attn_q, l}, UnitKind::same_key, h + null(rng), 0.004));
    out.push_back(unit({Component::text, TensorRole::attn_q, l}, UnitKind::baseline, null(rng), 0.004));
  }
  return out;
}

const TensorKey kEmbedding{Component::text, TensorRole::embedding};

/// A token_mapped embedding unit: h of the mapped rows and the rotation test's numbers.
UnitEvidence mapped(double same_id, double h, double rotation_cosine, double rotation_null_sd) {
  auto u = unit(kEmbedding, UnitKind::token_mapped, h, 0.02);
  u.mapped_same_id = same_id;
  u.mapped_tokens = 2000;
  u.rotation_cosine = rotation_cosine;
  u.rotation_null_mean = 0.0;
  u.rotation_null_sd = rotation_null_sd;
  u.rotation_perms = kPerms;
  u.rotation_null_p = permutation_p(rotation_cosine, 0.0, rotation_null_sd, kPerms, 0);
  return u;
}

const DerivationKind* kind_of(const PairVerdict& v, const std::string& name) {
  const auto it = std::find_if(v.kinds.begin(), v.kinds.end(), [&](const auto& k) { return k.kind == name; });
  return it == v.kinds.end() ? nullptr : &*it;
}

const ComponentVerdict& embeddings(const PairVerdict& v) {
  return *std::find_if(v.components.begin(), v.components.end(),
                       [](const auto& c) { return c.component == "embeddings"; });
}

TEST(TokenMappedVerdict, ShiftedIdsHideReuseFromRowsPairedByIdButNotFromTheTokenMap) {
  std::mt19937 rng(1);
  auto units = attention(0.99, rng);
  // Rows paired by id compare different tokens: h at null level.
  units.push_back(unit(kEmbedding, UnitKind::submatrix, 0.001, 0.005));
  const auto by_id = decide_verdict(units, 0, {}, {4, 4, 0, 0});
  EXPECT_NE(by_id.overall, VerdictClass::derived) << by_id.reason;  // the failure the map fixes

  units.push_back(mapped(0.2, 0.98, 0.97, 0.02));
  const auto v = decide_verdict(units, 0, {}, {4, 4, 0, 0});
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  EXPECT_EQ(embeddings(v).verdict, VerdictClass::derived) << embeddings(v).reason;
  const auto* vocab = kind_of(v, "vocab_extended");
  ASSERT_NE(vocab, nullptr) << v.kind;
  EXPECT_LT(vocab->p_value, 1e-6);
  EXPECT_NE(vocab->evidence.find("token map"), std::string::npos) << vocab->evidence;
  EXPECT_NE(vocab->evidence.find("80% of them at other ids"), std::string::npos) << vocab->evidence;
  EXPECT_EQ(kind_of(v, "rotated"), nullptr);  // matched without rotation
}

TEST(TokenMappedVerdict, RowsThatMatchOnlyAfterARotationAreReuseOfKindRotated) {
  std::mt19937 rng(2);
  auto units = attention(0.99, rng);
  units.push_back(unit(kEmbedding, UnitKind::same_key, 0.002, 0.02));
  units.push_back(mapped(1.0, 0.002, 0.95, 0.02));  // same ids: judged by the id-paired unit
  const auto v = decide_verdict(units, 0, {}, {4, 4, 0, 0});
  EXPECT_EQ(v.overall, VerdictClass::derived) << v.reason;
  const auto& e = embeddings(v);
  EXPECT_EQ(e.verdict, VerdictClass::derived) << e.reason;
  EXPECT_EQ(e.kind, "rotated");
  const auto* rotated = kind_of(v, "rotated");
  ASSERT_NE(rotated, nullptr) << v.kind;
  EXPECT_LT(rotated->p_value, 1e-6);
  EXPECT_EQ(kind_of(v, "vocab_extended"), nullptr);  // every token kept its id
}

TEST(TokenMappedVerdict, ARotationFitOfIndependentSizeNeverAccuses) {
  std::mt19937 rng(3);
  // Independent models: attention at null level; their embeddings align by a rotation about as
  // well as independently trained models do (far beyond the shuffled-pairing null).
  auto units = attention(0.0, rng);
  units.push_back(unit(kEmbedding, UnitKind::same_key, 0.003, 0.02));
  auto m = mapped(1.0, 0.003, kMinRotationExcess - 0.05, 0.02);
  EXPECT_LT(m.rotation_null_p, 1e-12);
  units.push_back(m);
  const auto v = decide_verdict(units, 0, {}, {4, 4, 0, 0});
  EXPECT_EQ(v.overall, VerdictClass::independent) << v.reason;
  EXPECT_NE(embeddings(v).verdict, VerdictClass::derived);
  EXPECT_NE(embeddings(v).reason.find("after an orthogonal rotation"), std::string::npos) << embeddings(v).reason;
  // Another tokenizer (ids differ), same rotation fit: still not reuse.
  units.back() = mapped(0.05, 0.003, kMinRotationExcess - 0.05, 0.02);
  const auto w = decide_verdict(units, 0, {}, {4, 4, 0, 0});
  EXPECT_NE(w.overall, VerdictClass::derived) << w.reason;
  EXPECT_NE(w.overall, VerdictClass::partial_reuse) << w.reason;
  EXPECT_NE(embeddings(w).verdict, VerdictClass::derived);
}

TEST(TokenMappedVerdict, AHighCosineOverAHighNullIsNoReuse) {
  // lm_head of two independent models trained on one corpus (shared/data/trained k_twin and
  // k_dense): held-out cosine 0.78 over a shuffled-pairing null of 0.75 +- 0.004 (8 SDs).
  ComponentVerdict c;
  c.component = "embeddings";
  auto u = mapped(1.0, 0.0, 0.783, 0.004);
  u.rotation_null_mean = 0.749;
  u.rotation_null_p = 1e-15;
  apply_rotation_evidence(c, {u}, {});
  EXPECT_NE(c.verdict, VerdictClass::derived) << c.reason;
  u.rotation_null_mean = 0.70;  // now 20 SDs, but the excess is 0.28 of the room: still no reuse
  apply_rotation_evidence(c, {u}, {});
  EXPECT_NE(c.verdict, VerdictClass::derived) << c.reason;
  EXPECT_NE(c.reason.find("excess"), std::string::npos) << c.reason;
}

TEST(TokenMappedVerdict, TheRotationMustPassOnEveryTable) {
  ComponentVerdict c;
  c.component = "embeddings";
  auto lm = mapped(1.0, 0.0, 0.2, 0.02);
  lm.key.role = TensorRole::lm_head;
  apply_rotation_evidence(c, {mapped(1.0, 0.0, 0.95, 0.02), lm}, {});
  EXPECT_NE(c.verdict, VerdictClass::derived) << c.reason;
  apply_rotation_evidence(c, {mapped(1.0, 0.0, 0.95, 0.02)}, {});
  EXPECT_EQ(c.verdict, VerdictClass::derived) << c.reason;
}

}  // namespace
}  // namespace lineage::stages
