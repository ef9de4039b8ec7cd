// What the sketches (stages/execute/expert_sketch.hpp) add to one unit of the pass: execute_unit
// on two BF16 matrices, routed experts of the bench-sketch.sh shape (gate/up [136, 512], down
// [512, 136]) and layer matrices of a 1024-wide model (attention q and o, dense MLP down), with and without
// ComparisonUnit::sketch, fastest and median of 201 runs each, interleaved so that the machine's load falls on both
// alike (on a loaded machine the fastest run is the steadier estimate of the work itself). In memory (no I/O): an upper
// bound on the share, since the real pass also reads the bytes. Then the expert matching of one layer from the
// sketches (stages/align/sketch_matching.hpp) at the same shape: 128 experts x 3 projections, 100 relabellings, a new
// seed each run (the process remembers results by their arguments, so a repeated call would cost nothing). Not part of
// the test suite. Last, the assignment alone, square against rectangular.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "io/dtype_decode.hpp"
#include "stages/align/assignment.hpp"
#include "stages/align/sketch_matching.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/expert_sketch.hpp"

using namespace lineage;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  struct Shape {
    TensorRole role;
    Projection projection;
    std::uint64_t rows, cols;
    const char* name;
  };
  // The experts of bench-sketch.sh, and layer matrices (the layer sketches) of a 1024-wide model:
  // attention q (hidden on the columns: the sketch gathers 16 columns over every row) and o
  // (hidden on the rows), and a dense MLP's down projection.
  const Shape shapes[] = {{TensorRole::routed_expert, Projection::gate, 136, 512, "routed expert gate"},
                          {TensorRole::routed_expert, Projection::down, 512, 136, "routed expert down"},
                          {TensorRole::attn_q, Projection::none, 1024, 1024, "attention q"},
                          {TensorRole::attn_o, Projection::none, 1024, 1024, "attention o"},
                          {TensorRole::dense_mlp, Projection::down, 1024, 2816, "dense MLP down"}};
  for (const auto& shape : shapes) {
    const auto projection = shape.projection;
    const std::uint64_t rows = shape.rows, cols = shape.cols;
    std::vector<std::uint16_t> a(rows * cols), b(rows * cols);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const float x = nd(rng);
      a[i] = io::float_to_bf16(x);
      b[i] = io::float_to_bf16(x + 0.1f * nd(rng));
    }
    stages::ComparisonUnit u;
    u.key_a.role = shape.role;
    u.key_a.layer = 3;
    u.key_a.expert = shape.role == TensorRole::routed_expert ? 5 : -1;
    u.key_a.projection = projection;
    u.key_b = u.key_a;
    u.rows = rows;
    u.cols = cols;
    u.a = stages::ElementView{0, "a", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
    u.b = stages::ElementView{1, "b", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
    const auto ba = std::as_bytes(std::span(a)), bb = std::as_bytes(std::span(b));
    std::vector<double> with, without;
    for (int run = 0; run < 201; ++run) {
      for (const bool sketch : {false, true}) {
        u.sketch = sketch;
        const auto t0 = std::chrono::steady_clock::now();
        const auto o = stages::execute_unit(u, ba, bb);
        const auto t1 = std::chrono::steady_clock::now();
        if (o.stats.elements == 0 || o.sketch_a.empty() == sketch) return 1;
        (sketch ? with : without).push_back(std::chrono::duration<double>(t1 - t0).count() * 1e6);
      }
    }
    const double w = fastest(with), wo = fastest(without), mw = median(with), mwo = median(without);
    std::printf(
        "execute_unit, %s [%llu x %llu] BF16: fastest %.0f us without the sketch, %.0f us with "
        "(%+.1f%%); median %.0f / %.0f us (%+.1f%%)\n",
        shape.name, static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols), wo, w,
        100 * (w - wo) / wo, mwo, mw, 100 * (mw - mwo) / mwo);
  }
  // One layer's matching: two unrelated models' sketches (the assignment's hardest case: no
  // pair stands out), as the verdict computes it.
  stages::LayerSketches suspect, other;
  for (auto* side : {&suspect, &other}) {
    side->experts = 128;
    side->projections = 3;
    side->data.resize(side->experts * side->projections * stages::kSketchWidth);
    for (auto& x : side->data) x = 0.01f + std::abs(nd(rng));
  }
  std::vector<double> ms;
  for (std::uint64_t run = 0; run < 21; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = stages::match_experts_by_sketch(suspect, other, 1000 + run, 100);
    const auto t1 = std::chrono::steady_clock::now();
    if (m.permutations != 100) return 1;
    ms.push_back(std::chrono::duration<double>(t1 - t0).count() * 1e3);
  }
  std::printf(
      "match_experts_by_sketch, 128 x 128 experts, 3 projections, 100 relabellings: fastest %.1f ms, median %.1f ms "
      "per layer\n",
      fastest(ms), median(ms));
  // The assignment alone, 128 x 128 random scores as in a relabelled null: the square solver
  // (Jonker-Volgenant) against the same problem with one column no row wants, which takes the
  // rectangular (Hungarian) path, the solver every matching used before; interleaved.
  const std::size_t n = 128;
  std::vector<double> jv, hungarian;
  for (int run = 0; run < 201; ++run) {
    std::vector<double> square(n * n), wide(n * (n + 1), -1e6);
    for (auto& x : square) x = nd(rng);
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(square.begin() + static_cast<std::ptrdiff_t>(i * n), n,
                  wide.begin() + static_cast<std::ptrdiff_t>(i * (n + 1)));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto a = stages::max_assignment(square, n, n);
    const auto t1 = std::chrono::steady_clock::now();
    const auto b = stages::max_assignment(wide, n, n + 1);
    const auto t2 = std::chrono::steady_clock::now();
    double ta = 0, tb = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ta += square[i * n + a[i]];
      tb += wide[i * (n + 1) + b[i]];
    }
    if (std::abs(ta - tb) > 1e-9) return 1;
    jv.push_back(std::chrono::duration<double>(t1 - t0).count() * 1e6);
    hungarian.push_back(std::chrono::duration<double>(t2 - t1).count() * 1e6);
  }
  std::printf(
      "max_assignment, 128 x 128 random scores: Jonker-Volgenant fastest %.0f us, median %.0f us; Hungarian path "
      "(one unwanted column more) fastest %.0f us, median %.0f us; ratio of medians %.2f\n",
      fastest(jv), median(jv), fastest(hungarian), median(hungarian), median(hungarian) / median(jv));
  return 0;
}
