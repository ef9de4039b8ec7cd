// Throughput of one comparison unit (stages/execute): two contiguous tensors of 64M elements each
// (BF16: 256 MB read in all; F8_E4M3 and F32 too, which the pass decodes first; F8_E4M3 also
// with a 128 x 128 grid of block scales, as DeepSeek-V3 and Kimi-K2 store their weights, each
// decoded code then multiplied by its block's factor), all statistics
// and a screening pass (compare --screen), from memory
// (no I/O). Prints the median of 5 runs in GB/s of bytes read, for each kernel width this machine
// has (stages/execute/unit_kernel.hpp), the widths' runs alternated so that all see the same load. Not part of the test
// suite (see docs/benchmarks.md). `bench_compare_bench [PAIR]` times only the pairs whose name
// contains PAIR (BF16, F8_E4M3, "with block scales", F32).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/heap_tuning.hpp"
#include "io/dtype_decode.hpp"
#include "stages/execute/block_scales.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/execute/unit_kernel.hpp"

using namespace lineage;

namespace {

/// A pair of tensors of `n` elements of `dtype` as stored: a ~ N(0, 0.02), b = a + 10% noise; for
/// F8_E4M3, random finite bytes with a quarter of b's changed (no encoder: the values' shape does
/// not matter to the kernel's speed).
std::pair<std::vector<std::byte>, std::vector<std::byte>> stored_pair(Dtype dtype, std::size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0, 0.02f);
  std::vector<std::byte> a(n * dtype_size(dtype)), b(a.size());
  for (std::size_t i = 0; i < n; ++i) {
    const float x = nd(rng), y = x + 0.1f * nd(rng);
    if (dtype == Dtype::BF16) {
      const std::uint16_t ha = io::float_to_bf16(x), hb = io::float_to_bf16(y);
      std::memcpy(&a[2 * i], &ha, 2), std::memcpy(&b[2 * i], &hb, 2);
    } else if (dtype == Dtype::F32) {
      std::memcpy(&a[4 * i], &x, 4), std::memcpy(&b[4 * i], &y, 4);
    } else {  // F8_E4M3: 0x7f and 0xff are NaN
      const auto byte_a = static_cast<std::uint8_t>(rng() % 0x7f | (rng() & 0x80));
      const auto byte_b = rng() % 4 == 0 ? static_cast<std::uint8_t>(rng() % 0x7f | (byte_a & 0x80)) : byte_a;
      a[i] = std::byte{byte_a}, b[i] = std::byte{byte_b};
    }
  }
  return {std::move(a), std::move(b)};
}

/// A 128 x 128 grid of factors over a rows x cols weight, each in [1e-4, 1e-3].
stages::BlockScales block_scales(std::uint64_t rows, std::uint64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> factor(1e-4f, 1e-3f);
  stages::BlockScales s;
  s.grid_cols = (cols + 127) / 128;
  s.tensor_cols = cols;
  s.matrix_rows = rows;
  s.grid.resize(((rows + 127) / 128) * s.grid_cols);
  for (auto& f : s.grid) f = factor(rng);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // An optional argument keeps the pairs whose name contains it ("F8_E4M3 with block scales"):
  // one case alone, for a profiler.
  const std::string only = argc > 1 ? argv[1] : "";
  (void)keep_large_buffers_in_heap();  // as lineage itself (pipeline/main.cpp)
  const std::uint64_t rows = 8192, cols = 8192;
  std::vector<stages::KernelWidth> widths{stages::KernelWidth::portable};
  for (const auto width : {stages::KernelWidth::narrow, stages::KernelWidth::wide}) {
    if (stages::kernel_width_available(width)) widths.push_back(width);
  }
  const auto name = [](stages::KernelWidth width) {
    return width == stages::KernelWidth::wide     ? "wide (AVX-512)"
           : width == stages::KernelWidth::narrow ? "narrow (AVX2)"
                                                  : "portable";
  };
  const auto scales_a = block_scales(rows, cols, 2), scales_b = block_scales(rows, cols, 3);
  for (const auto& [dtype, scaled] : {std::pair{Dtype::BF16, false}, std::pair{Dtype::F8_E4M3, false},
                                      std::pair{Dtype::F8_E4M3, true}, std::pair{Dtype::F32, false}}) {
    const std::string pair_name = std::string(to_string(dtype)) + (scaled ? " with block scales" : "");
    if (pair_name.find(only) == std::string::npos) continue;
    const auto [a, b] = stored_pair(dtype, rows * cols);
    stages::ComparisonUnit u;
    u.rows = rows;
    u.cols = cols;
    u.a = stages::ElementView{0, "a", "f", dtype, 0, 0, rows, cols, cols, 1};
    u.b = stages::ElementView{1, "b", "f", dtype, 0, 0, rows, cols, cols, 1};
    if (scaled) {
      u.a.scales = &scales_a;
      u.b.scales = &scales_b;
    }
    for (const bool screen : {false, true}) {
      u.screen = screen;
      std::vector<std::vector<double>> rates(widths.size());
      for (int run = 0; run < 5; ++run) {
        for (std::size_t w = 0; w < widths.size(); ++w) {
          stages::use_kernel_width(widths[w]);
          const auto t0 = std::chrono::steady_clock::now();
          const auto o = stages::execute_unit(u, a, b);
          const auto t1 = std::chrono::steady_clock::now();
          const double s = std::chrono::duration<double>(t1 - t0).count();
          rates[w].push_back(static_cast<double>(a.size() + b.size()) / s / 1e9);
          if (o.stats.elements == 0) return 1;  // keeps the call, and fails on a unit that compared nothing
        }
      }
      for (std::size_t w = 0; w < widths.size(); ++w) {
        auto& r = rates[w];
        std::sort(r.begin(), r.end());
        std::printf(
            "execute_unit, %s contiguous, %llu x %llu per side, %s, %s kernel: median %.2f GB/s per rank "
            "(min %.2f, max %.2f; %.2fx portable)\n",
            pair_name.c_str(), static_cast<unsigned long long>(rows), static_cast<unsigned long long>(cols),
            screen ? "a screening pass" : "all statistics", name(widths[w]), r[2], r[0], r[4], r[2] / rates[0][2]);
      }
    }
  }
  return 0;
}
