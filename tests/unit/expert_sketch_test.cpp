// Per-expert sketches: unchanged by a permutation of the expert's neurons (read through
// execute_unit, in both orientations), and the sketch matching recovers a permuted, pruned layer
// and calls an unrelated layer unmatched.
#include "stages/execute/expert_sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "stages/align/sketch_matching.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/sketch_gather.hpp"
#include "stages/plan/matched_experts.hpp"

namespace lineage::stages {
namespace {

std::vector<float> random_matrix(std::uint64_t rows, std::uint64_t cols, std::mt19937& rng, float sd = 0.02f) {
  std::normal_distribution<float> nd(0, sd);
  std::vector<float> m(rows * cols);
  for (auto& x : m) x = nd(rng);
  return m;
}

std::vector<std::byte> as_f32(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

ComparisonUnit expert_unit(Projection p, std::uint64_t rows, std::uint64_t cols) {
  ComparisonUnit u;
  u.kind = UnitKind::same_key;
  u.key_a.role = TensorRole::routed_expert;
  u.key_a.layer = 1;
  u.key_a.expert = 3;
  u.key_a.projection = p;
  u.key_b = u.key_a;
  u.rows = rows;
  u.cols = cols;
  u.a = ElementView{0, "a", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  u.b = ElementView{1, "b", "f", Dtype::F32, 0, 0, rows, cols, cols, 1};
  u.sketch = sketched(u.key_a, u.kind);
  return u;
}

TEST(ExpertSketch, DimsAreFixedByTheHiddenSizeAlone) {
  const auto d = sketch_dims(160);
  ASSERT_EQ(d.size(), kSketchDims);
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
  EXPECT_LT(d.back(), 160u);
  EXPECT_EQ(d, sketch_dims(160));
  // The k smallest hashes: a larger hidden size keeps the chosen dims that still rank first.
  const auto wide = sketch_dims(4096);
  ASSERT_EQ(wide.size(), kSketchDims);
  EXPECT_LT(wide.back(), 4096u);
  EXPECT_NE(d, wide);
  EXPECT_TRUE(sketch_dims(kSketchDims).empty());
}

TEST(ExpertSketch, UnchangedByANeuronPermutationChangedByAnotherExpert) {
  const std::uint64_t neurons = 48, hidden = 64;
  std::mt19937 rng(5);
  const auto w = random_matrix(neurons, hidden, rng);
  std::vector<std::size_t> perm(neurons);
  std::iota(perm.begin(), perm.end(), 0u);
  std::shuffle(perm.begin(), perm.end(), rng);
  // gate/up: rows are neurons; down: columns are neurons (its transpose).
  std::vector<float> gate_perm(w.size()), down(w.size()), down_perm(w.size());
  for (std::uint64_t n = 0; n < neurons; ++n) {
    for (std::uint64_t h = 0; h < hidden; ++h) {
      gate_perm[n * hidden + h] = w[perm[n] * hidden + h];
      down[h * neurons + n] = w[n * hidden + h];
      down_perm[h * neurons + n] = w[perm[n] * hidden + h];
    }
  }
  const auto gate_unit = expert_unit(Projection::gate, neurons, hidden);
  const auto a = as_f32(w), b = as_f32(gate_perm);
  const auto gate = execute_unit(gate_unit, a, b);
  ASSERT_EQ(gate.sketch_a.size(), kSketchWidth);
  ASSERT_EQ(gate.sketch_b.size(), kSketchWidth);
  for (std::size_t i = 0; i < kSketchWidth; ++i) EXPECT_NEAR(gate.sketch_a[i], gate.sketch_b[i], 1e-9) << i;
  // The permutation does change the element-wise statistics (the sketch is what survives it).
  EXPECT_LT(gate.stats.pearson, 0.5);
  const auto down_unit = expert_unit(Projection::down, hidden, neurons);
  const auto da = as_f32(down), db = as_f32(down_perm);
  const auto dn = execute_unit(down_unit, da, db);
  ASSERT_EQ(dn.sketch_a.size(), kSketchWidth);
  for (std::size_t i = 0; i < kSketchWidth; ++i) {
    EXPECT_NEAR(dn.sketch_a[i], dn.sketch_b[i], 1e-9) << i;
    // The same hidden dimensions in both orientations: down is gate's transpose here.
    EXPECT_NEAR(dn.sketch_a[i], gate.sketch_a[i], 1e-9) << i;
  }
  // Another expert has another sketch.
  const auto other = as_f32(random_matrix(neurons, hidden, rng));
  const auto o = execute_unit(gate_unit, a, other);
  double diff = 0;
  for (std::size_t i = 0; i < kSketchWidth; ++i) diff += std::fabs(o.sketch_a[i] - o.sketch_b[i]);
  EXPECT_GT(diff, 1e-4);
  // Units that are neither routed-expert weights nor layer matrices (layer_sketched: the dense
  // MLP is one since the layer sketches), or not in place, are not sketched.
  auto embedding = gate_unit.key_a;
  embedding.role = TensorRole::embedding;
  embedding.layer = -1;
  EXPECT_FALSE(sketched(embedding, UnitKind::same_key));
  EXPECT_FALSE(sketched(gate_unit.key_a, UnitKind::baseline));
  EXPECT_TRUE(sketched(gate_unit.key_a, UnitKind::expert_sketch));
  auto off = gate_unit;
  off.sketch = false;
  EXPECT_TRUE(execute_unit(off, a, b).sketch_a.empty());
}

TEST(ExpertSketch, ADownProjectionsSketchFromItsRowsAloneIsThePasss) {
  // The sketch before the pass reads only the sketched rows of a down projection (by pread); it
  // must be the pass's sketch bit for bit, here of a BF16 view inside a larger buffer.
  const std::uint64_t hidden = 96, neurons = 40, offset = 7;
  std::mt19937 rng(9);
  const auto w = random_matrix(hidden, neurons, rng);
  std::vector<std::byte> stored((offset + hidden * neurons) * 2);
  for (std::uint64_t i = 0; i < hidden * neurons; ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &w[i], 4);
    const auto b16 = static_cast<std::uint16_t>(bits >> 16);
    std::memcpy(stored.data() + (offset + i) * 2, &b16, 2);
  }
  auto down = expert_unit(Projection::down, hidden, neurons);
  down.a = down.b = ElementView{0, "a", "f", Dtype::BF16, 0, offset, hidden, neurons, neurons, 1};
  const auto rows = sketch_rows(down, down.a);
  ASSERT_EQ(rows, sketch_dims(hidden));
  std::vector<std::byte> gathered;
  for (const auto r : rows) {
    const auto* p = stored.data() + (offset + r * neurons) * 2;
    gathered.insert(gathered.end(), p, p + neurons * 2);
  }
  const auto pass = unit_sketches(down, stored, stored);
  ASSERT_EQ(pass.first.size(), kSketchWidth);
  EXPECT_EQ(sketch_from_rows(down.a, gathered), pass.first);
  EXPECT_EQ(pass.first, execute_unit(down, stored, stored).sketch_a);
  gathered.pop_back();
  EXPECT_THROW((void)sketch_from_rows(down.a, gathered), InternalError);
  // gate and up hold the hidden axis in their columns: no rows to read; unsketched units neither.
  const auto gate = expert_unit(Projection::gate, neurons, hidden);
  EXPECT_TRUE(sketch_rows(gate, gate.a).empty());
  auto off = down;
  off.sketch = false;
  EXPECT_TRUE(sketch_rows(off, off.a).empty());
}

/// `values` stored as `dtype` (F32, BF16 or F16 by truncation of the float's bits: any stored
/// pattern will do), after `offset` elements of padding.
std::vector<std::byte> stored_as(Dtype dtype, const std::vector<float>& values, std::uint64_t offset) {
  const std::size_t size = dtype == Dtype::F32 ? 4 : 2;
  std::vector<std::byte> out((offset + values.size()) * size, std::byte{0x5a});
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &values[i], 4);
    if (dtype == Dtype::F32) {
      std::memcpy(out.data() + (offset + i) * 4, &bits, 4);
    } else {
      const auto half = static_cast<std::uint16_t>(dtype == Dtype::BF16 ? bits >> 16 : bits & 0xffffu);
      std::memcpy(out.data() + (offset + i) * 2, &half, 2);
    }
  }
  return out;
}

TEST(ExpertSketch, ThePassGathersTheSketchReadingTheTensorGives) {
  // execute_unit takes an unsplit unit's sketch elements from the pass's blocks (SketchGather;
  // on AVX2 the BF16 cases' as stored, take_bf16); they must give the sketch read from the
  // tensor (unit_sketches) bit for bit, in both orientations, through a transposed view, with
  // rows that straddle kernel blocks, stored BF16/F16 with an offset, and non-finite values
  // among them.
  const std::uint64_t neurons = 300, hidden = 1000;  // 1000 does not divide a 4,096-element block
  std::mt19937 rng(21);
  auto w = random_matrix(neurons, hidden, rng);
  w[5 * hidden + sketch_dims(hidden)[3]] = std::numeric_limits<float>::infinity();
  w[299 * hidden + sketch_dims(hidden)[15]] = std::numeric_limits<float>::quiet_NaN();
  auto v = random_matrix(neurons, hidden, rng);
  std::vector<float> w_t(w.size());  // w stored transposed: [hidden, neurons]
  for (std::uint64_t n = 0; n < neurons; ++n) {
    for (std::uint64_t h = 0; h < hidden; ++h) w_t[h * neurons + n] = w[n * hidden + h];
  }
  struct Case {
    const char* name;
    ComparisonUnit unit;
    std::vector<std::byte> a, b;
  };
  std::vector<Case> cases;
  cases.push_back({"gate F32", expert_unit(Projection::gate, neurons, hidden), as_f32(w), as_f32(v)});
  {
    auto down = expert_unit(Projection::down, hidden, neurons);  // the hidden axis in its rows
    down.a = down.b = ElementView{0, "a", "f", Dtype::BF16, 0, 7, hidden, neurons, neurons, 1};
    cases.push_back({"down BF16 at an offset", down, stored_as(Dtype::BF16, w_t, 7), stored_as(Dtype::BF16, w, 7)});
  }
  {
    auto gate = expert_unit(Projection::gate, neurons, hidden);  // the hidden axis in its columns
    gate.a = gate.b = ElementView{0, "a", "f", Dtype::BF16, 0, 5, neurons, hidden, hidden, 1};
    cases.push_back({"gate BF16 at an offset", gate, stored_as(Dtype::BF16, w, 5), stored_as(Dtype::BF16, v, 5)});
  }
  {
    auto up = expert_unit(Projection::up, neurons, hidden);
    up.a = up.b = ElementView{0, "a", "f", Dtype::F16, 0, 3, neurons, hidden, hidden, 1};
    cases.push_back({"up F16", up, stored_as(Dtype::F16, w, 3), stored_as(Dtype::F16, v, 3)});
  }
  {
    // A gate read through a transposed view of its [hidden, neurons] storage.
    auto gate = expert_unit(Projection::gate, neurons, hidden);
    gate.a = ElementView{0, "a", "f", Dtype::F32, 0, 0, neurons, hidden, 1, neurons};
    cases.push_back({"gate transposed", gate, as_f32(w_t), as_f32(w)});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto read = unit_sketches(c.unit, c.a, c.b);
    ASSERT_EQ(read.first.size(), kSketchWidth);
    const auto pass = execute_unit(c.unit, c.a, c.b);
    EXPECT_EQ(pass.sketch_a, read.first);
    EXPECT_EQ(pass.sketch_b, read.second);
  }
  // The gather itself, fed the decoded elements in blocks as the pass feeds it.
  const auto& gate = cases[0].unit;
  SketchGather gather(gate, gate.a, neurons * hidden);
  ASSERT_TRUE(gather.active());
  for (std::uint64_t start = 0; start < w.size(); start += 4096) {
    const auto len = std::min<std::uint64_t>(4096, w.size() - start);
    if (start == 4096) {
      EXPECT_THROW((void)gather.sketch(), InternalError);  // the pass has not seen every element yet
    }
    gather.take(start, static_cast<std::size_t>(len), w.data() + start);
  }
  EXPECT_EQ(gather.sketch(), unit_sketches(gate, cases[0].a, cases[0].b).first);
  // Fed the stored BF16 halves instead (take_bf16, what the pass over stored BF16 feeds it), in
  // both orientations: the same sketch.
  for (const std::size_t k : {std::size_t{1}, std::size_t{2}}) {
    const auto& c = cases[k];
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.unit.a.dtype, Dtype::BF16);
    SketchGather stored(c.unit, c.unit.a, neurons * hidden);
    ASSERT_TRUE(stored.active());
    for (std::uint64_t start = 0; start < neurons * hidden; start += 4096) {
      const auto len = std::min<std::uint64_t>(4096, neurons * hidden - start);
      stored.take_bf16(start, static_cast<std::size_t>(len), c.a.data() + 2 * (c.unit.a.offset + start));
    }
    EXPECT_EQ(stored.sketch(), unit_sketches(c.unit, c.a, c.b).first);
  }
  // Inactive where the pass does not read every element of the view once, in order.
  EXPECT_FALSE(SketchGather(gate, gate.a, neurons * hidden - 1).active());
  auto sampled = gate;
  sampled.sampled = true;
  EXPECT_FALSE(SketchGather(sampled, sampled.a, neurons * hidden).active());
  auto narrower = gate;
  narrower.cols = hidden - 1;
  EXPECT_FALSE(SketchGather(narrower, narrower.a, neurons * hidden).active());
  auto off = gate;
  off.sketch = false;
  EXPECT_FALSE(SketchGather(off, off.a, neurons * hidden).active());
  EXPECT_THROW((void)SketchGather(off, off.a, neurons * hidden).sketch(), InternalError);
}

TEST(ExpertSketch, RecordRoundTripsThroughTheJournalPayload) {
  UnitOutcome o;
  o.unit_id = 7;
  o.sketch_a = {1.0f, 2.0f};
  o.sketch_b = {3.0f, 4.0f};
  const auto back = UnitOutcome::deserialize(7, o.serialize());
  EXPECT_EQ(back.sketch_a, o.sketch_a);
  EXPECT_EQ(back.sketch_b, o.sketch_b);
}

/// Sketches of `experts` experts of one layer (gate, up, down), each from its own weights.
struct Layer {
  std::vector<std::vector<float>> gate, up, down;  // gate/up [neurons, hidden]; down stored as [neurons, hidden] too
};

Layer random_layer(std::size_t experts, std::uint64_t neurons, std::uint64_t hidden, std::mt19937& rng) {
  Layer l;
  for (std::size_t e = 0; e < experts; ++e) {
    l.gate.push_back(random_matrix(neurons, hidden, rng));
    l.up.push_back(random_matrix(neurons, hidden, rng));
    l.down.push_back(random_matrix(neurons, hidden, rng));
  }
  return l;
}

std::vector<float> sketch_rows(const std::vector<float>& w, std::uint64_t neurons, std::uint64_t hidden) {
  const auto dims = sketch_dims(hidden);
  std::vector<float> x(kSketchDims * neurons);
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::uint64_t n = 0; n < neurons; ++n) x[i * neurons + n] = w[n * hidden + dims[i]];
  }
  return expert_sketch(x, neurons);
}

LayerSketches sketches(const Layer& l, std::uint64_t neurons, std::uint64_t hidden) {
  LayerSketches s;
  s.experts = l.gate.size();
  s.projections = 3;
  for (std::size_t e = 0; e < s.experts; ++e) {
    for (const auto* w : {&l.gate[e], &l.up[e], &l.down[e]}) {
      const auto sk = sketch_rows(*w, neurons, hidden);
      s.data.insert(s.data.end(), sk.begin(), sk.end());
    }
  }
  return s;
}

TEST(SketchMatching, RecoversPermutedAndPrunedExpertsAndNotAnUnrelatedLayer) {
  const std::size_t experts = 16;
  const std::uint64_t neurons = 32, hidden = 96;
  std::mt19937 rng(11);
  const auto parent = random_layer(experts, neurons, hidden, rng);
  // The suspect: a fine-tune (small noise) whose experts are reordered and whose neurons are
  // permuted within every expert (gate, up and down together), with experts 2, 7, 9 pruned.
  std::vector<int> order(experts);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  order.erase(std::remove_if(order.begin(), order.end(), [](int e) { return e == 2 || e == 7 || e == 9; }),
              order.end());
  Layer suspect;
  std::normal_distribution<float> noise(0, 0.002f);
  for (int e : order) {
    std::vector<std::size_t> perm(neurons);
    std::iota(perm.begin(), perm.end(), 0u);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (auto [from, to] : {std::pair{&parent.gate, &suspect.gate}, std::pair{&parent.up, &suspect.up},
                            std::pair{&parent.down, &suspect.down}}) {
      const auto& w = (*from)[static_cast<std::size_t>(e)];
      std::vector<float> p(w.size());
      for (std::uint64_t n = 0; n < neurons; ++n) {
        for (std::uint64_t h = 0; h < hidden; ++h) p[n * hidden + h] = w[perm[n] * hidden + h] + noise(rng);
      }
      to->push_back(std::move(p));
    }
  }
  const auto m = match_experts_by_sketch(sketches(suspect, neurons, hidden), sketches(parent, neurons, hidden), 3, 100);
  ASSERT_EQ(m.match.size(), order.size());
  EXPECT_EQ(m.match, order);
  EXPECT_EQ(m.unmatched_other, (std::vector<int>{2, 7, 9}));
  EXPECT_TRUE(m.unmatched_suspect.empty());
  EXPECT_LT(m.p, 0.01);
  for (double x : m.margin) EXPECT_GT(x, 0);
  // The other direction: the parent has experts the suspect lacks (added experts).
  const auto back = match_experts_by_sketch(sketches(parent, neurons, hidden), sketches(suspect, neurons, hidden), 3);
  EXPECT_EQ(back.unmatched_suspect, (std::vector<int>{2, 7, 9}));
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(back.match[static_cast<std::size_t>(order[i])], int(i));
  // An unrelated layer: no matching beyond what maximisation gives by chance.
  const auto unrelated = random_layer(experts, neurons, hidden, rng);
  const auto u = match_experts_by_sketch(sketches(unrelated, neurons, hidden), sketches(parent, neurons, hidden), 3);
  EXPECT_GT(u.p, 0.01);
  EXPECT_LT(u.matched_mean, m.matched_mean);
}

TEST(SketchMatching, RemembersResultsOnlyForTheSameArgumentsAndBatchesAnyCount) {
  const std::size_t experts = 12;
  const std::uint64_t neurons = 24, hidden = 64;
  std::mt19937 rng(5);
  const auto a = sketches(random_layer(experts, neurons, hidden, rng), neurons, hidden);
  auto b = a;
  // b: a's experts 0 and 1 swapped; otherwise the same bytes.
  const auto width = static_cast<std::ptrdiff_t>(b.projections * kSketchWidth);
  std::swap_ranges(b.data.begin(), b.data.begin() + width, b.data.begin() + width);
  const auto first = match_experts_by_sketch(a, a, 1, 23);
  const auto again = match_experts_by_sketch(a, a, 1, 23);
  EXPECT_EQ(first.match, again.match);
  EXPECT_EQ(first.null_mean, again.null_mean);
  EXPECT_EQ(first.permutations, 23);  // not a multiple of the batch of relabellings
  EXPECT_EQ(first.in_place, int(experts));
  // Different sketches, seed or relabelling count: a result of their own, not the one remembered.
  const auto swapped = match_experts_by_sketch(b, a, 1, 23);
  EXPECT_EQ(swapped.match[0], 1);
  EXPECT_EQ(swapped.match[1], 0);
  EXPECT_EQ(swapped.in_place, int(experts) - 2);
  const auto reseeded = match_experts_by_sketch(a, a, 2, 23);
  EXPECT_NE(reseeded.null_mean, first.null_mean);
  EXPECT_EQ(match_experts_by_sketch(a, a, 1, 7).permutations, 7);
}

TEST(SketchMatching, PlanningNullStopsEarlyOnlyWhereTheMovesCannotChange) {
  const std::size_t experts = 12;
  const std::uint64_t neurons = 24, hidden = 64;
  std::mt19937 rng(9);
  const auto parent = sketches(random_layer(experts, neurons, hidden, rng), neurons, hidden);
  // In place (a fine-tune's layer): no expert moves, so no relabelling is drawn.
  const auto in_place = match_experts_by_sketch(parent, parent, 4, kMovePlanningNull);
  EXPECT_EQ(in_place.in_place, int(experts));
  EXPECT_EQ(in_place.permutations, 0);
  EXPECT_EQ(in_place.p, 1.0);
  EXPECT_EQ(in_place.match, match_experts_by_sketch(parent, parent, 4).match);
  // Experts reordered (a permuted copy): decided by the first 20 relabellings.
  auto permuted = parent;
  const auto width = static_cast<std::ptrdiff_t>(parent.projections * kSketchWidth);
  std::rotate(permuted.data.begin(), permuted.data.begin() + 3 * width, permuted.data.end());
  const auto early = match_experts_by_sketch(permuted, parent, 4, kMovePlanningNull);
  const auto full = match_experts_by_sketch(permuted, parent, 4);
  EXPECT_EQ(early.permutations, 20);
  EXPECT_EQ(full.permutations, 100);
  EXPECT_EQ(early.match, full.match);
  EXPECT_EQ(early.match[0], 3);
  EXPECT_LE(early.p, kMatchedExpertAlpha);
  EXPECT_LE(full.p, kMatchedExpertAlpha);
  // An added expert at index 1 (no match) shifts the suspect's later experts by one: moves, even
  // though each of them sits one index after an unmatched one.
  const auto added = sketches(random_layer(1, neurons, hidden, rng), neurons, hidden);
  auto shifted = parent;
  shifted.experts += 1;
  shifted.data.insert(shifted.data.begin() + width, added.data.begin(), added.data.end());
  const auto grown = match_experts_by_sketch(shifted, parent, 4, kMovePlanningNull);
  ASSERT_EQ(grown.match.size(), experts + 1);
  EXPECT_EQ(grown.match[0], 0);
  EXPECT_EQ(grown.match[1], -1);
  EXPECT_EQ(grown.match[2], 1);
  EXPECT_GT(grown.permutations, 0);
  EXPECT_LE(grown.p, kMatchedExpertAlpha);
  // An unrelated layer: the maximised matching moves experts, nothing is decisive, and the result
  // is the full null's, relabelling for relabelling.
  const auto unrelated = sketches(random_layer(experts, neurons, hidden, rng), neurons, hidden);
  const auto seq = match_experts_by_sketch(unrelated, parent, 4, kMovePlanningNull);
  const auto all = match_experts_by_sketch(unrelated, parent, 4);
  EXPECT_LT(all.in_place, int(experts));
  EXPECT_EQ(seq.permutations, 100);
  EXPECT_EQ(seq.match, all.match);
  EXPECT_EQ(seq.null_mean, all.null_mean);
  EXPECT_EQ(seq.null_sd, all.null_sd);
  EXPECT_EQ(seq.p, all.p);
  EXPECT_GT(seq.p, kMatchedExpertAlpha);
  // A look after 15 is one after 20 (whole batches of relabellings): still the full null's bits.
  const auto odd = match_experts_by_sketch(unrelated, parent, 4, SketchNull{.permutations = 100, .first = 15});
  EXPECT_EQ(odd.permutations, 100);
  EXPECT_EQ(odd.null_mean, all.null_mean);
  EXPECT_EQ(odd.null_sd, all.null_sd);
}

TEST(SketchMatching, AgreementTailIsPoissonOne) {
  EXPECT_DOUBLE_EQ(agreement_p(0), 1.0);
  EXPECT_NEAR(agreement_p(1), 1 - std::exp(-1.0), 1e-12);
  EXPECT_NEAR(agreement_p(5), 0.00365985, 1e-7);
  EXPECT_GT(agreement_p(40), 0.0);
  EXPECT_LT(agreement_p(40), 1e-40);
}

}  // namespace
}  // namespace lineage::stages
