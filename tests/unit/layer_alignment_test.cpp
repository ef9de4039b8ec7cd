#include "stages/align/layer_alignment.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace lineage::stages {
namespace {

/// A suspect of source.size() layers whose layer i is the other's layer source[i] (-1: none):
/// similarity 0.9 there, noise around 0.3 elsewhere (what every layer pair shares).
LayerSimilarity built(const std::vector<int>& source, int other_layers, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.02);
  LayerSimilarity s;
  s.suspect_layers = static_cast<int>(source.size());
  s.other_layers = other_layers;
  for (int i = 0; i < s.suspect_layers; ++i) {
    for (int j = 0; j < other_layers; ++j)
      s.value.push_back((source[static_cast<std::size_t>(i)] == j ? 0.9 : 0.3) + noise(rng));
  }
  s.null_sd = 0.02;
  return s;
}

TEST(LayerAlignment, TheIdentityIsFoundAtOffsetZeroWithASmallShuffleP) {
  std::vector<int> source(10);
  std::iota(source.begin(), source.end(), 0);
  const auto a = align_layers(built(source, 10, 1));
  EXPECT_EQ(a.layer_map, source);
  EXPECT_EQ(a.best_match, source);
  EXPECT_EQ(a.offset, 0);
  EXPECT_DOUBLE_EQ(a.alignment_rate, 1.0);
  EXPECT_LT(a.alignment_p, 0.01);
  EXPECT_LT(a.map_p, 0.01);
  EXPECT_TRUE(a.claimed);
  EXPECT_EQ(a.segments, 1);
  EXPECT_TRUE(a.unmatched_other.empty());
  EXPECT_TRUE(a.repeated_other.empty());
  EXPECT_EQ(a.cells_stored, 100u);
  EXPECT_EQ(a.cells_missing, 0u);
  for (const double m : a.margin_sds) EXPECT_GT(m, 10.0);
}

TEST(LayerAlignment, AConstantOffsetIsReportedAsSuch) {
  std::vector<int> source;
  for (int i = 0; i < 8; ++i) source.push_back(i + 2);
  const auto a = align_layers(built(source, 10, 2));
  EXPECT_EQ(a.layer_map, source);
  EXPECT_EQ(a.offset, 2);
  EXPECT_DOUBLE_EQ(a.alignment_rate, 1.0);
  EXPECT_LT(a.alignment_p, 0.01);
  EXPECT_EQ(a.unmatched_other, (std::vector<int>{0, 1}));
}

TEST(LayerAlignment, RepeatedLayersGiveAMonotoneMapWithRepeats) {
  const std::vector<int> source{0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7};
  const auto a = align_layers(built(source, 8, 3));
  EXPECT_EQ(a.layer_map, source);
  EXPECT_EQ(a.repeated_other, (std::vector<int>{1, 3, 5, 7}));
  EXPECT_EQ(a.segments, 1);
  EXPECT_LT(a.map_p, 0.01);
  EXPECT_TRUE(a.claimed);
  EXPECT_EQ(format_layer_map(a.layer_map), "new 0..11 <- old [0,1,1,2,3,3,4,5,5,6,7,7]");

  // Four layers cannot show the order beyond chance (4! relabellings): the map is exact, the
  // p-value says how little four layers can prove, and the map is not claimed.
  const std::vector<int> small{0, 1, 1, 2, 3, 3};
  const auto b = align_layers(built(small, 4, 4));
  EXPECT_EQ(b.layer_map, small);
  EXPECT_GE(b.map_p, 1.0 / 24 - 0.01);
  EXPECT_FALSE(b.claimed);
}

TEST(LayerAlignment, PrunedLayersLeaveGapsInTheOtherModel) {
  const std::vector<int> kept{0, 1, 2, 4, 5, 7, 9, 11};
  const auto a = align_layers(built(kept, 12, 5));
  EXPECT_EQ(a.layer_map, kept);
  EXPECT_EQ(a.unmatched_other, (std::vector<int>{3, 6, 8, 10}));
  EXPECT_TRUE(a.repeated_other.empty());
  EXPECT_LT(a.map_p, 0.01);
  // A suspect layer with no counterpart (new, e.g. inserted) stays unmatched.
  std::vector<int> inserted{0, 1, -1, 2, 3, 4, 5, 6, 7};
  const auto b = align_layers(built(inserted, 8, 6));
  EXPECT_EQ(b.layer_map, inserted);
}

TEST(LayerAlignment, TwoCopiesOfOneStackAreTwoMonotoneRuns) {
  // SOLAR: layers [0, 12) then [4, 16) of a 16-layer model.
  std::vector<int> source;
  for (int i = 0; i < 12; ++i) source.push_back(i);
  for (int i = 4; i < 16; ++i) source.push_back(i);
  const auto a = align_layers(built(source, 16, 7));
  EXPECT_EQ(a.layer_map, source);
  EXPECT_EQ(a.segments, 2);
  EXPECT_LT(a.map_p, 0.01);
  EXPECT_EQ(a.repeated_other.size(), 8u);
}

TEST(LayerAlignment, NoiseAloneClaimsNoMap) {
  std::mt19937 rng(8);
  std::normal_distribution<double> noise(0.3, 0.05);
  LayerSimilarity s;
  s.suspect_layers = 16;
  s.other_layers = 12;
  for (int k = 0; k < 16 * 12; ++k) s.value.push_back(noise(rng));
  s.null_sd = 0.05;
  const auto a = align_layers(s);
  EXPECT_GT(a.map_p, 0.05);
  EXPECT_GT(a.alignment_p, 0.05);
  EXPECT_FALSE(a.claimed);
  // Cells 3 SDs above the rest are rare in noise: few layers, if any, get matched.
  EXPECT_LE(16 - std::count(a.layer_map.begin(), a.layer_map.end(), -1), 3);
}

TEST(LayerAlignment, MissingCellsAreCountedAndNeverMatched) {
  // What the store keeps for matrices: the same layer and one shifted pairing (i, i+1).
  std::vector<int> source(8);
  std::iota(source.begin(), source.end(), 0);
  auto s = built(source, 8, 9);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      if (j != i && j != (i + 1) % 8) s.value[static_cast<std::size_t>(i * 8 + j)] = std::nan("");
    }
  }
  // Layer 3's own cell is missing too: one stored cell is no comparison (no best match), and
  // its value (off the map) is not beyond min_z.
  s.value[3 * 8 + 3] = std::nan("");
  const auto a = align_layers(s);
  EXPECT_EQ(a.cells_stored, 15u);
  EXPECT_EQ(a.cells_missing, 49u);
  EXPECT_EQ(a.stored[3 * 8 + 4], 1);
  EXPECT_EQ(a.stored[3 * 8 + 3], 0);
  EXPECT_EQ(a.best_match, (std::vector<int>{0, 1, 2, -1, 4, 5, 6, 7}));
  EXPECT_TRUE(std::isnan(a.margin_sds[3]));
  EXPECT_EQ(a.layer_map, (std::vector<int>{0, 1, 2, -1, 4, 5, 6, 7}));
  EXPECT_EQ(a.offset, 0);
  EXPECT_DOUBLE_EQ(a.alignment_rate, 1.0);
  EXPECT_LT(a.alignment_p, 0.01);
  // Only the same layer stored: no row has a best match, so no alignment rate to claim.
  for (int i = 0; i < 8; ++i) s.value[static_cast<std::size_t>(i * 8 + (i + 1) % 8)] = std::nan("");
  s.value[3 * 8 + 3] = 0.9;
  const auto d = align_layers(s);
  EXPECT_EQ(d.best_match, std::vector<int>(8, -1));
  EXPECT_DOUBLE_EQ(d.alignment_rate, 0.0);
  EXPECT_DOUBLE_EQ(d.alignment_p, 1.0);
}

}  // namespace
}  // namespace lineage::stages
