// Throughput of one comparison unit (stages/execute): two contiguous BF16 tensors of 64M elements
// each (256 MB read in all), all statistics and a screening pass (compare --screen), from memory
// (no I/O). Prints the median of 5 runs in GB/s of bytes read, for each kernel width this machine
// has (stages/execute/unit_kernel.hpp), the widths' runs alternated so that all see the same load. Not part of the test
// suite (see docs/benchmarks.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/heap_tuning.hpp"
#include "io/dtype_decode.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_kernel.hpp"

using namespace lineage;

int main() {
  (void)keep_large_buffers_in_heap();  // as lineage itself (pipeline/main.cpp)
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
  std::vector<stages::KernelWidth> widths{stages::KernelWidth::portable};
  for (const auto width : {stages::KernelWidth::narrow, stages::KernelWidth::wide}) {
    if (stages::kernel_width_available(width)) widths.push_back(width);
  }
  const auto name = [](stages::KernelWidth width) {
    return width == stages::KernelWidth::wide     ? "wide (AVX-512)"
           : width == stages::KernelWidth::narrow ? "narrow (AVX2)"
                                                  : "portable";
  };
  for (const bool screen : {false, true}) {
    u.screen = screen;
    std::vector<std::vector<double>> rates(widths.size());
    for (int run = 0; run < 5; ++run) {
      for (std::size_t w = 0; w < widths.size(); ++w) {
        stages::use_kernel_width(widths[w]);
        const auto t0 = std::chrono::steady_clock::now();
        const auto o = stages::execute_unit(u, ba, bb);
        const auto t1 = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(t1 - t0).count();
        rates[w].push_back(static_cast<double>(ba.size() + bb.size()) / s / 1e9);
        if (o.stats.elements == 0) return 1;  // keeps the call, and fails on a unit that compared nothing
      }
    }
    for (std::size_t w = 0; w < widths.size(); ++w) {
      auto& r = rates[w];
      std::sort(r.begin(), r.end());
      std::printf(
          "execute_unit, BF16 contiguous, %llu x %llu per side, %s, %s kernel: median %.2f GB/s per rank "
          "(min %.2f, max %.2f; %.2fx portable)\n",
          static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols),
          screen ? "a screening pass" : "all statistics", name(widths[w]), r[2], r[0], r[4], r[2] / rates[0][2]);
    }
  }
  return 0;
}
