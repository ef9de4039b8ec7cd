#include "stages/align/layer_sketch_similarity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "stages/execute/expert_sketch.hpp"
#include "stages/verdict/layer_sketch_evidence.hpp"

namespace lineage::stages {
namespace {

constexpr std::uint64_t kHidden = 96;
constexpr std::uint64_t kNeurons = 48;

/// A random layer matrix [neurons, hidden], row-major.
std::vector<float> random_matrix(std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> w(kNeurons * kHidden);
  for (auto& x : w) x = g(rng);
  return w;
}

/// The matrix with its rows permuted (a neuron or head permutation) and noise of relative size `noise` added.
std::vector<float> permuted_copy(const std::vector<float>& w, double noise, std::mt19937& rng) {
  std::vector<std::size_t> order(kNeurons);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  std::normal_distribution<float> g(0.0f, static_cast<float>(noise));
  std::vector<float> out(w.size());
  for (std::size_t r = 0; r < kNeurons; ++r) {
    for (std::size_t c = 0; c < kHidden; ++c) out[r * kHidden + c] = w[order[r] * kHidden + c] + g(rng);
  }
  return out;
}

/// The sketch the pass makes of a [neurons, hidden] matrix: its chosen hidden columns over the rows.
std::vector<float> sketch_of(const std::vector<float>& w) {
  const auto dims = sketch_dims(kHidden);
  std::vector<float> x(kSketchDims * kNeurons);
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::size_t n = 0; n < kNeurons; ++n) x[i * kNeurons + n] = w[n * kHidden + dims[i]];
  }
  return expert_sketch(x, kNeurons);
}

/// A model of `layers` random layers, two tensors (q, o) each.
std::vector<std::vector<std::vector<float>>> random_model(int layers, std::mt19937& rng) {
  std::vector<std::vector<std::vector<float>>> m;
  for (int l = 0; l < layers; ++l) m.push_back({random_matrix(rng), random_matrix(rng)});
  return m;
}

FamilySketches sketches_of(const std::vector<std::vector<std::vector<float>>>& model) {
  FamilySketches s;
  for (std::size_t l = 0; l < model.size(); ++l) {
    s.set("q", static_cast<int>(l), sketch_of(model[l][0]));
    s.set("o", static_cast<int>(l), sketch_of(model[l][1]));
  }
  return s;
}

/// The suspect made from `parent` by taking layer source[i] for its layer i, rows permuted, with noise.
std::vector<std::vector<std::vector<float>>> derived(const std::vector<std::vector<std::vector<float>>>& parent,
                                                     const std::vector<int>& source, std::mt19937& rng) {
  std::vector<std::vector<std::vector<float>>> m;
  for (const int j : source) {
    const auto& p = parent[static_cast<std::size_t>(j)];
    m.push_back({permuted_copy(p[0], 0.3, rng), permuted_copy(p[1], 0.3, rng)});
  }
  return m;
}

TEST(LayerSketch, TheSketchIgnoresARowPermutation) {
  std::mt19937 rng(1);
  const auto w = random_matrix(rng);
  const auto a = sketch_of(w), b = sketch_of(permuted_copy(w, 0.0, rng));
  ASSERT_EQ(a.size(), kSketchWidth);
  for (std::size_t k = 0; k < kSketchWidth; ++k) EXPECT_NEAR(a[k], b[k], 1e-4 * (std::abs(a[k]) + 1));
}

TEST(LayerSketch, TheMatrixRolesAreSketchedInSameKeyAndLayerSketchUnits) {
  TensorKey q;
  q.role = TensorRole::attn_q;
  q.layer = 3;
  EXPECT_TRUE(layer_sketched(q));
  EXPECT_TRUE(sketched(q, UnitKind::same_key));
  EXPECT_TRUE(sketched(q, UnitKind::layer_sketch));
  EXPECT_FALSE(sketched(q, UnitKind::baseline));
  TensorKey down = q;
  down.role = TensorRole::dense_mlp;
  down.projection = Projection::down;
  EXPECT_TRUE(layer_sketched(down));
  TensorKey norm = q;
  norm.role = TensorRole::attn_norm;
  EXPECT_FALSE(layer_sketched(norm));
  TensorKey vision = q;
  vision.component = Component::vision;
  EXPECT_FALSE(layer_sketched(vision));
  TensorKey expert = down;
  expert.role = TensorRole::routed_expert;
  expert.expert = 2;
  EXPECT_FALSE(layer_sketched(expert));  // the per-expert sketches, matched per layer instead
  EXPECT_TRUE(sketched(expert, UnitKind::same_key));
}

TEST(LayerSketch, ARepeatedLayerModelGetsItsLayerMap) {
  std::mt19937 rng(7);
  const auto parent = random_model(8, rng);
  const std::vector<int> source = {0, 1, 1, 2, 3, 4, 5, 5, 6, 7};
  const auto suspect = derived(parent, source, rng);
  const auto s = sketch_layer_similarity(sketches_of(suspect), sketches_of(parent));
  ASSERT_EQ(s.suspect_layers, 10);
  ASSERT_EQ(s.other_layers, 8);
  EXPECT_GT(s.null_sd, 0.0);
  const auto a = align_layers(s);
  EXPECT_EQ(a.best_match, source);
  EXPECT_EQ(a.layer_map, source);
  EXPECT_EQ(a.repeated_other, (std::vector<int>{1, 5}));
  EXPECT_LT(a.map_p, 0.01);
  EXPECT_TRUE(a.claimed);
  // Within the suspect, each repeated layer's best match is its copy.
  const auto w = sketch_within_similarity(sketches_of(suspect));
  EXPECT_TRUE(std::isnan(w.at(2, 2)));
  const auto within = align_layers(w);
  EXPECT_EQ(within.best_match[1], 2);
  EXPECT_EQ(within.best_match[2], 1);
  EXPECT_EQ(within.best_match[6], 7);
  EXPECT_EQ(within.best_match[7], 6);
  EXPECT_GT(within.margin_sds[1], 3.0);
}

TEST(LayerSketch, IndependentRandomLayersDoNotAlign) {
  int claimed = 0, small_p = 0;
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    const auto a = random_model(8, rng), b = random_model(8, rng);
    const auto s = sketch_layer_similarity(sketches_of(a), sketches_of(b));
    const auto al = align_layers(s);
    claimed += al.claimed ? 1 : 0;
    small_p += al.map_p <= 0.01 || al.alignment_p <= 0.01 ? 1 : 0;
    // The null SD matches the cells' own spread: no cell of unrelated layers stands far out.
    for (const double x : s.value) EXPECT_LT(std::abs(x) / s.null_sd, 6.0);
  }
  EXPECT_EQ(claimed, 0);
  EXPECT_LE(small_p, 1);
}

TEST(LayerSketch, TheEvidenceReadsSameKeyAndLayerSketchUnitsOfAStore) {
  std::mt19937 rng(11);
  const auto parent = random_model(4, rng);
  const std::vector<int> source = {0, 1, 1, 2, 3, 3};
  const auto suspect = derived(parent, source, rng);
  io::StoreContents store;
  const auto add = [&](UnitKind kind, int model_a, int model_b, const char* tensor, int layer,
                       const std::vector<float>& a, const std::vector<float>& b) {
    io::StoredUnit u;
    u.id = store.units.size();
    u.kind = kind;
    u.key_a.role = tensor[0] == 'q' ? TensorRole::attn_q : TensorRole::attn_o;
    u.key_a.layer = layer;
    u.key_b = u.key_a;
    u.model_a = model_a;
    u.model_b = model_b;
    store.sketches.put(u.id, a, b);
    store.units.push_back(u);
  };
  for (int l = 0; l < 6; ++l) {
    for (const int t : {0, 1}) {
      const auto sa = sketch_of(suspect[static_cast<std::size_t>(l)][static_cast<std::size_t>(t)]);
      const char* name = t == 0 ? "q" : "o";
      if (l < 4) {
        add(UnitKind::same_key, 0, 1, name, l, sa,
            sketch_of(parent[static_cast<std::size_t>(l)][static_cast<std::size_t>(t)]));
      } else {
        add(UnitKind::layer_sketch, 0, 0, name, l, sa, sa);
      }
    }
  }
  std::vector<FamilyLayerAlignment> families;
  add_layer_sketch_alignments(families, store, 0, 1, PairLayout{6, 4, 0, 0});
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].family, "attention");
  ASSERT_TRUE(families[0].sketches);
  const auto& s = *families[0].sketches;
  EXPECT_EQ(s.tensors.size(), 2u);
  EXPECT_EQ(s.centred.alignment.cells_missing, 0u);
  EXPECT_EQ(s.centred.alignment.best_match, source);
  EXPECT_EQ(s.within_suspect.similarity.suspect_layers, 6);
  EXPECT_EQ(s.within_other.similarity.suspect_layers, 4);
  EXPECT_EQ(s.within_suspect.alignment.best_match[1], 2);
  EXPECT_EQ(s.within_suspect.alignment.best_match[5], 4);
  // Raw within each model: the same shapes, a copied layer is its copy's best match,
  // and the values differ from the centred matrix's (nothing is centred away).
  EXPECT_EQ(s.within_suspect_raw.similarity.suspect_layers, 6);
  EXPECT_EQ(s.within_other_raw.similarity.suspect_layers, 4);
  EXPECT_GT(s.within_suspect_raw.similarity.at(1, 2), 0.5);
  EXPECT_EQ(s.within_suspect_raw.alignment.best_match[1], 2);
  EXPECT_TRUE(std::isnan(s.within_suspect_raw.similarity.at(3, 3)));
  EXPECT_GT(std::abs(s.within_suspect_raw.similarity.at(0, 3) - s.within_suspect.similarity.at(0, 3)), 1e-6);
}

}  // namespace
}  // namespace lineage::stages
