// Shape-free std curves (stages/verdict/std_curves.hpp): curves from scanned tensors, their
// correlation across depths, the layer-shuffle null and the control ranking.
#include "stages/verdict/std_curves.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace lineage::stages {
namespace {

/// Curves of two roles over `layers` layers, drawn from one depth profile f(t) (plus noise).
StdCurves curves(int layers, double scale, unsigned noise_seed, double noise) {
  std::mt19937 rng(noise_seed);
  std::normal_distribution<double> n(0.0, noise);
  StdCurves c;
  for (int l = 0; l < layers; ++l) {
    const double t = static_cast<double>(l) / (layers - 1);
    c["text/attn_q"][l] = scale * (0.02 + 0.01 * std::sin(9 * t) + 0.004 * t) + n(rng);
    c["text/attn_o"][l] = scale * (0.03 + 0.01 * std::cos(7 * t)) + n(rng);
  }
  return c;
}

TEST(StdCurves, FromScannedTensorsExpertsAveragedPerLayer) {
  auto t = [](const char* key, double sd) {
    ScannedTensor s;
    s.key = key;
    s.sample.sampled_std = sd;
    return s;
  };
  const auto c =
      std_curves_of({t("text/attn_q/L0", 0.1), t("text/attn_q/L1", 0.2), t("text/routed_expert/L1/E0/up", 0.3),
                     t("text/routed_expert/L1/E1/up", 0.5), t("text/embedding", 0.9), t("text/attn_q/L2:bias", 0.7)});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.at("text/attn_q").size(), 2u);
  EXPECT_DOUBLE_EQ(c.at("text/attn_q").at(1), 0.2);
  EXPECT_DOUBLE_EQ(c.at("text/routed_expert/up").at(1), 0.4);
}

TEST(StdCurves, TheSameProfileCorrelatesAcrossWidthsAndDepths) {
  // A deeper, wider model of the same profile (its SDs scaled): r near 1, and the order matters.
  const auto r = compare_std_curves(curves(24, 1.0, 1, 0.0), curves(16, 0.5, 2, 0.0));
  ASSERT_TRUE(r.compared());
  EXPECT_EQ(r.points, 24);
  EXPECT_EQ(r.roles.size(), 2u);
  EXPECT_GT(r.r, 0.95);
  EXPECT_GT(r.r_detrended, 0.9);
  EXPECT_LT(r.p_layer_shuffle, 0.01);
  // Unrelated noise curves: no evidence.
  const auto u = compare_std_curves(curves(24, 0.0, 3, 0.01), curves(24, 0.0, 4, 0.01));
  EXPECT_GT(u.p_layer_shuffle, 0.01);
  // Nothing in common: not compared.
  StdCurves other;
  other["text/dense_mlp/up"][0] = 1;
  EXPECT_FALSE(compare_std_curves(curves(8, 1.0, 1, 0.0), other).compared());
}

TEST(StdCurves, TheComparedCurvesAreKeptPerRole) {
  // What the report draws: per role, both models' curves (z-normalised over their layers, then
  // interpolated onto the common grid), the very values r correlates.
  const auto r = compare_std_curves(curves(24, 1.0, 1, 0.0), curves(16, 0.5, 2, 0.0));
  ASSERT_EQ(r.curves.size(), r.roles.size());
  std::vector<double> a, b;
  for (const auto& role : r.roles) {
    const auto& [sa, sb] = r.curves.at(role);
    ASSERT_EQ(sa.size(), static_cast<std::size_t>(r.points));
    ASSERT_EQ(sb.size(), static_cast<std::size_t>(r.points));
    a.insert(a.end(), sa.begin(), sa.end());
    b.insert(b.end(), sb.begin(), sb.end());
  }
  double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    ma += a[i] / static_cast<double>(a.size()), mb += b[i] / static_cast<double>(b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  }
  EXPECT_NEAR(sab / std::sqrt(saa * sbb), r.r, 1e-9);
  const auto j = r.to_json();
  ASSERT_TRUE(j.contains("curves"));
  EXPECT_EQ(j["curves"]["text/attn_q"]["other"].size(), static_cast<std::size_t>(r.points));
}

TEST(StdCurves, ControlsRankTheParent) {
  StdCurveComparison parent, c1, c2;
  parent.roles = c1.roles = c2.roles = {"text/attn_q"};
  parent.r_detrended = 0.8;
  c1.r_detrended = 0.9;
  c2.r_detrended = 0.1;
  rank_against_controls(parent, {{"control1", c1}, {"control2", c2}});
  ASSERT_TRUE(parent.p_controls.has_value());
  EXPECT_DOUBLE_EQ(*parent.p_controls, 2.0 / 3.0);
  EXPECT_EQ(parent.control_r.size(), 2u);
  EXPECT_EQ(parent.to_json().at("p_controls"), 2.0 / 3.0);
}

}  // namespace
}  // namespace lineage::stages
