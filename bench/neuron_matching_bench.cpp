// Cost of neuron matching (stages/align/neuron_matching.hpp) against the unit pass it runs in:
// a dense MLP gate unit [18432, 7168] and its down unit [7168, 18432], BF16, from memory, the
// suspect a noisy neuron permutation of the other. Prints per unit the median of 3 runs of
// match_unit_neurons alone and of execute_unit (which includes it and the permutation null),
// and the share. Not part of the test suite (see docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "io/dtype_decode.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_neurons.hpp"

using namespace lineage;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename Fn>
double seconds(Fn&& fn) {
  std::vector<double> t;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

}  // namespace

int main() {
  const std::uint64_t neurons = 18432, hidden = 7168;
  std::vector<int> sigma(neurons);
  std::iota(sigma.begin(), sigma.end(), 0);
  std::shuffle(sigma.begin(), sigma.end(), std::mt19937(2));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  std::vector<float> other(neurons * hidden);
  for (auto& x : other) x = nd(rng);
  int failures = 0;
  for (const bool down : {false, true}) {
    const std::uint64_t rows = down ? hidden : neurons, cols = down ? neurons : hidden;
    std::vector<std::uint16_t> a(rows * cols), b(rows * cols);
    for (std::uint64_t n = 0; n < neurons; ++n) {
      for (std::uint64_t d = 0; d < hidden; ++d) {
        const float o = other[n * hidden + d];
        const float s = other[static_cast<std::uint64_t>(sigma[n]) * hidden + d] + 0.2f * nd(rng);
        const auto at = [&](std::uint64_t neuron) { return down ? d * neurons + neuron : neuron * hidden + d; };
        b[at(n)] = io::float_to_bf16(o);
        a[at(n)] = io::float_to_bf16(s);
      }
    }
    stages::ComparisonUnit u;
    u.rows = rows;
    u.cols = cols;
    u.key_a = u.key_b =
        TensorKey{Component::text, TensorRole::dense_mlp, 3, -1, down ? Projection::down : Projection::gate};
    u.a = stages::ElementView{0, "a", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
    u.b = stages::ElementView{1, "b", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
    const auto ba = std::as_bytes(std::span(a)), bb = std::as_bytes(std::span(b));
    stages::NeuronMatching m;
    const double match = seconds([&] { m = stages::match_unit_neurons(u, ba, bb); });
    const double unit = seconds([&] { (void)stages::execute_unit(u, ba, bb); });
    std::size_t right = 0;
    for (std::size_t i = 0; i < m.sampled.size(); ++i)
      right += m.match[i] == static_cast<std::uint64_t>(sigma[m.sampled[i]]);
    failures += right == m.sampled.size() ? 0 : 1;
    std::printf(
        "%s [%llu, %llu]: matching %.4f s, unit (with it) %.4f s, share %.1f%%, %zu of %zu sampled neurons recovered, "
        "p %.3g\n",
        down ? "down" : "gate", static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols), match,
        unit, 100.0 * match / unit, right, m.sampled.size(), m.matched.p);
  }
  return failures;
}
