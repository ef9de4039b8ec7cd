// Throughput of one comparison unit (stages/execute): two contiguous BF16 tensors of 64M elements
// each (256 MB read in all), all statistics, from memory (no I/O). Prints the median of 3 runs in
// GB/s of bytes read. Not part of the test suite (see docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "io/dtype_decode.hpp"
#include "stages/execute/execute_unit.hpp"

using namespace lineage;

int main() {
  const std::uint64_t rows = 8192, cols = 8192;
  std::vector<std::uint16_t> a(rows * cols), b(rows * cols);
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float x = nd(rng);
    a[i] = io::float_to_bf16(x);
    b[i] = io::float_to_bf16(x + 0.1f * nd(rng));
  }
  stages::ComparisonUnit u;
  u.rows = rows;
  u.cols = cols;
  u.a = stages::ElementView{0, "a", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
  u.b = stages::ElementView{1, "b", "f", Dtype::BF16, 0, 0, rows, cols, cols, 1};
  const auto ba = std::as_bytes(std::span(a)), bb = std::as_bytes(std::span(b));
  std::vector<double> rates;
  for (int run = 0; run < 3; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto o = stages::execute_unit(u, ba, bb);
    const auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    rates.push_back(static_cast<double>(ba.size() + bb.size()) / s / 1e9);
    if (o.stats.elements == 0) return 1;  // keeps the call, and fails on a unit that compared nothing
  }
  std::sort(rates.begin(), rates.end());
  std::printf(
      "execute_unit, BF16 contiguous, %llu x %llu per side, all statistics: median %.2f GB/s per rank "
      "(min %.2f, max %.2f)\n",
      static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols), rates[1], rates[0], rates[2]);
  return 0;
}
