#include "stages/align/neuron_matching.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <numeric>
#include <random>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_neurons.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

/// neurons x hidden: a shared mean direction, low-rank structure, per-neuron scales and noise,
/// as trained MLP weights have (rows of one model correlate with each other).
std::vector<float> structured(std::uint64_t neurons, std::uint64_t hidden, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 1);
  constexpr int rank = 6;
  std::vector<float> mean(hidden), basis(rank * hidden), m(neurons * hidden);
  for (auto& x : mean) x = nd(rng);
  for (auto& x : basis) x = nd(rng);
  for (std::uint64_t r = 0; r < neurons; ++r) {
    const float scale = 0.5f + std::abs(nd(rng));
    float coef[rank];
    for (auto& c : coef) c = nd(rng);
    for (std::uint64_t c = 0; c < hidden; ++c) {
      float v = 0.7f * mean[c] + nd(rng);
      for (int k = 0; k < rank; ++k) v += 0.8f * coef[k] * basis[k * hidden + c];
      m[r * hidden + c] = scale * v;
    }
  }
  return m;
}

std::vector<int> permutation(std::uint64_t n, std::uint32_t seed) {
  std::vector<int> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), std::mt19937(seed));
  return p;
}

/// Row r of the result is row p[r] of m, plus noise of `noise` times each element's scale.
std::vector<float> permuted_copy(const std::vector<float>& m, std::uint64_t hidden, const std::vector<int>& p,
                                 float noise, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> out(m.size());
  for (std::size_t r = 0; r < p.size(); ++r) {
    for (std::uint64_t c = 0; c < hidden; ++c) {
      const float x = m[static_cast<std::uint64_t>(p[r]) * hidden + c];
      out[r * hidden + c] = x + noise * nd(rng);
    }
  }
  return out;
}

TEST(NeuronMatching, RecoversAPermutedNoisyCopyExactly) {
  constexpr std::uint64_t neurons = 384, hidden = 160;
  const auto parent = structured(neurons, hidden, 1);
  const auto sigma = permutation(neurons, 2);
  // Noise of 0.3 of a unit-scale element: a relative change like a strong fine-tune.
  const auto suspect = permuted_copy(parent, hidden, sigma, 0.3f, 3);
  const auto m = match_neurons(suspect, parent, neurons, hidden);
  ASSERT_TRUE(m.defined());
  ASSERT_EQ(m.sampled.size(), 64u);
  for (std::size_t i = 0; i < m.sampled.size(); ++i) {
    EXPECT_EQ(m.match[i], static_cast<std::uint64_t>(sigma[m.sampled[i]])) << "sampled neuron " << m.sampled[i];
  }
  EXPECT_LE(m.in_place, 2u);
  EXPECT_EQ(m.sketch_dims, 80u);  // at most half of the hidden dimensions
  EXPECT_EQ(m.heldout_dims, 80u);
  EXPECT_GT(m.matched.observed, 0.8);
  EXPECT_LT(m.matched.p, 1e-12);
  EXPECT_GT(m.margin, 0.2);
}

TEST(NeuronMatching, LargeMlpsAreScreenedAndStillRecoveredExactly) {
  // Above 512 neurons the candidates come from a screen on 32 sketch dimensions.
  constexpr std::uint64_t neurons = 1500, hidden = 256;
  const auto parent = structured(neurons, hidden, 21);
  const auto sigma = permutation(neurons, 22);
  const auto m = match_neurons(permuted_copy(parent, hidden, sigma, 0.3f, 23), parent, neurons, hidden);
  ASSERT_EQ(m.sampled.size(), 64u);
  for (std::size_t i = 0; i < m.sampled.size(); ++i) {
    EXPECT_EQ(m.match[i], static_cast<std::uint64_t>(sigma[m.sampled[i]])) << "sampled neuron " << m.sampled[i];
  }
  EXPECT_EQ(m.sketch_dims, 96u);
  EXPECT_EQ(m.heldout_dims, 160u);
  EXPECT_LT(m.matched.p, 1e-12);
}

TEST(NeuronMatching, AnUnpermutedCopyMatchesInPlace) {
  constexpr std::uint64_t neurons = 200, hidden = 96;
  const auto parent = structured(neurons, hidden, 4);
  std::vector<int> identity(neurons);
  std::iota(identity.begin(), identity.end(), 0);
  const auto m = match_neurons(permuted_copy(parent, hidden, identity, 0.2f, 5), parent, neurons, hidden);
  EXPECT_EQ(m.in_place, m.sampled.size());
  EXPECT_LT(m.matched.p, 1e-12);
}

TEST(NeuronMatching, IndependentMatricesAreNotSignificantThoughTheMatchingMaximises) {
  // Unrelated models, random and structured: the held-out statistic stays at its null, while
  // the maximised sketch score itself is far from 0 (why the statistic is held out).
  int small = 0;
  double worst = 1;
  constexpr int trials = 20;
  for (int t = 0; t < trials; ++t) {
    const auto seed = static_cast<std::uint32_t>(100 + 2 * t);
    constexpr std::uint64_t neurons = 256, hidden = 128;
    const bool structure = t % 2 == 0;
    std::vector<float> a = structure ? structured(neurons, hidden, seed) : structured(neurons, hidden, seed);
    std::vector<float> b = structured(neurons, hidden, seed + 1);
    if (!structure) {
      std::mt19937 rng(seed);
      std::normal_distribution<float> nd(0, 1);
      for (auto& x : a) x = nd(rng);
      for (auto& x : b) x = nd(rng);
    }
    const auto m = match_neurons(a, b, neurons, hidden);
    ASSERT_TRUE(m.defined());
    EXPECT_LE(m.in_place, 3u);
    small += m.matched.p < 0.01 ? 1 : 0;
    worst = std::min(worst, m.matched.p);
  }
  EXPECT_LE(small, 3) << "p < 0.01 in " << small << " of " << trials << " independent pairs";
  EXPECT_GT(worst, 1e-4);
}

// The matched statistic's null sd, in closed form from the held-out dimensions' Grams, is the sd
// of the statistic itself when the other model's held-out dimensions are relabelled at random:
// with more held-out dimensions than matched neurons (hidden 128: by the neurons' Grams) and with
// fewer (hidden 96: 48 dimensions, by the dimensions' cross products).
TEST(NeuronMatching, TheMatchedNullSdIsTheSdOverRelabelledDimensions) {
  for (const std::uint64_t hidden : {128u, 96u}) {
    constexpr std::uint64_t neurons = 256;
    const auto a = structured(neurons, hidden, 41), b = structured(neurons, hidden, 42);
    const auto m = match_neurons(a, b, neurons, hidden);
    ASSERT_TRUE(m.defined());
    const auto s2 = split_hidden(hidden).heldout;
    const std::size_t n2 = s2.size();
    std::vector<std::vector<float>> x, y;
    for (std::size_t i = 0; i < m.sampled.size(); ++i) {
      std::vector<float> xi(n2), yi(n2);
      for (std::size_t p = 0; p < n2; ++p) {
        xi[p] = a[m.sampled[i] * hidden + s2[p]];
        yi[p] = b[m.match[i] * hidden + s2[p]];
      }
      if (!standardise(xi.data(), n2) || !standardise(yi.data(), n2)) continue;
      x.push_back(std::move(xi));
      y.push_back(std::move(yi));
    }
    ASSERT_EQ(x.size(), m.matched.units);
    ASSERT_GT(x.size(), 16u);
    EXPECT_EQ(hidden == 128 ? n2 >= x.size() : n2 < x.size(), true) << hidden << ": " << n2 << " dims";
    const auto statistic = [&](const std::vector<std::size_t>& relabel) {
      double acc = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        for (std::size_t p = 0; p < n2; ++p) acc += static_cast<double>(x[i][p]) * y[i][relabel[p]];
      }
      return acc / static_cast<double>(x.size());
    };
    std::vector<std::size_t> relabel(n2);
    std::iota(relabel.begin(), relabel.end(), std::size_t{0});
    EXPECT_NEAR(statistic(relabel), m.matched.observed, 1e-5) << hidden;
    std::mt19937 rng(7);
    constexpr int draws = 4000;
    double sum = 0, sum2 = 0;
    for (int k = 0; k < draws; ++k) {
      std::shuffle(relabel.begin(), relabel.end(), rng);
      const double t = statistic(relabel);
      sum += t, sum2 += t * t;
    }
    const double mean = sum / draws, sd = std::sqrt(std::max(0.0, sum2 / draws - mean * mean));
    EXPECT_NEAR(mean, m.matched.null_mean, 3 * sd / std::sqrt(double{draws})) << hidden;
    // 4000 draws give the sd to about 1.1%: 6% is over five of those.
    EXPECT_NEAR(sd / m.matched.null_sd, 1.0, 0.06) << hidden << ": " << sd << " " << m.matched.null_sd;
  }
}

TEST(NeuronMatching, TheSampleDependsOnlyOnTheNeuronCount) {
  const auto sample = sampled_neurons(18432);
  EXPECT_EQ(sample, sampled_neurons(18432));
  EXPECT_EQ(sample.size(), 64u);
  EXPECT_TRUE(std::is_sorted(sample.begin(), sample.end()));
  EXPECT_EQ(sampled_neurons(40).size(), 40u);
  const auto big = split_hidden(7168);
  EXPECT_EQ(big.sketch.size(), 96u);
  EXPECT_EQ(big.heldout.size(), 1024u);
  std::vector<std::uint64_t> both;
  std::set_intersection(big.sketch.begin(), big.sketch.end(), big.heldout.begin(), big.heldout.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty());
  // Blocks of 16 consecutive dimensions; a small model keeps every other dimension held out.
  EXPECT_EQ(big.sketch[15] - big.sketch[0], 15u);
  const auto small = split_hidden(100);
  EXPECT_EQ(small.sketch.size(), 48u);
  EXPECT_EQ(small.heldout.size(), 52u);
}

TEST(NeuronMatching, TooSmallUnitsAreNotMatched) {
  const std::vector<float> tiny(3 * 20, 1.0f);
  EXPECT_FALSE(match_neurons(tiny, tiny, 3, 20).defined());
  EXPECT_THROW((void)match_neurons(tiny, std::span<const float>(tiny).first(10), 3, 20), InternalError);
}

std::vector<std::byte> to_bf16(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto h = io::float_to_bf16(v[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

ComparisonUnit mlp_unit(Projection projection, std::uint64_t rows, std::uint64_t cols) {
  ComparisonUnit u;
  u.id = 7;
  u.rows = rows;
  u.cols = cols;
  u.key_a = u.key_b = TensorKey{Component::text, TensorRole::dense_mlp, 2, -1, projection};
  u.a = ElementView{0, "a", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
  return u;
}

TEST(NeuronMatching, TheUnitPassMatchesGateRowsAndDownColumnsAndJournalsTheMatch) {
  // One MLP of the parent (gate [I, d], down [d, I]); the suspect permutes its neurons (gate
  // rows, down columns alike) and adds noise. Both units recover the same permutation on the
  // same sampled neurons, and the outcome's record keeps it.
  constexpr std::uint64_t neurons = 256, hidden = 128;
  const auto gate = structured(neurons, hidden, 11);
  const auto down_t = structured(neurons, hidden, 12);  // down transposed: neuron-major
  const auto sigma = permutation(neurons, 13);
  const auto gate_s = permuted_copy(gate, hidden, sigma, 0.2f, 14);
  const auto down_ts = permuted_copy(down_t, hidden, sigma, 0.2f, 15);
  const auto transpose = [&](const std::vector<float>& m) {  // [neurons, hidden] -> [hidden, neurons]
    std::vector<float> t(m.size());
    for (std::uint64_t r = 0; r < neurons; ++r) {
      for (std::uint64_t c = 0; c < hidden; ++c) t[c * neurons + r] = m[r * hidden + c];
    }
    return t;
  };
  const auto g = execute_unit(mlp_unit(Projection::gate, neurons, hidden), to_bf16(gate_s), to_bf16(gate));
  const auto d = execute_unit(mlp_unit(Projection::down, hidden, neurons), to_bf16(transpose(down_ts)),
                              to_bf16(transpose(down_t)));
  for (const auto* o : {&g, &d}) {
    ASSERT_EQ(o->neuron_sampled.size(), 64u);
    EXPECT_EQ(o->stats.neuron_sampled, 64u);
    EXPECT_LT(o->stats.neuron.p, 1e-12);
    EXPECT_LE(o->stats.neuron_in_place, 2u);
    for (std::size_t i = 0; i < o->neuron_sampled.size(); ++i) {
      EXPECT_EQ(o->neuron_match[i], static_cast<std::uint64_t>(sigma[o->neuron_sampled[i]]));
    }
  }
  EXPECT_EQ(g.neuron_sampled, d.neuron_sampled);
  const auto back = UnitOutcome::deserialize(7, g.serialize());
  EXPECT_EQ(back.neuron_sampled, g.neuron_sampled);
  EXPECT_EQ(back.neuron_match, g.neuron_match);
  EXPECT_EQ(back.stats.neuron.p, g.stats.neuron.p);
  EXPECT_EQ(back.stats.neuron_in_place, g.stats.neuron_in_place);
  // Not an MLP, or no permutation tests: no matching.
  auto attention = mlp_unit(Projection::q, neurons, hidden);
  attention.key_a.role = attention.key_b.role = TensorRole::attn_q;
  EXPECT_FALSE(neuron_axis(attention).has_value());
  const auto none = execute_unit(attention, to_bf16(gate_s), to_bf16(gate));
  EXPECT_TRUE(none.neuron_sampled.empty());
  EXPECT_EQ(none.stats.neuron_sampled, 0u);
  NullOptions off;
  off.permutations = 0;
  EXPECT_TRUE(execute_unit(mlp_unit(Projection::gate, neurons, hidden), to_bf16(gate_s), to_bf16(gate), off)
                  .neuron_sampled.empty());
}

}  // namespace
}  // namespace lineage::stages
