#include "stages/null/sample_products.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace lineage::stages {
namespace {

// Each kernel's body is compiled once per ISA (the _baseline, _v3 and _v4 variants below, which
// null_variant picks from). GCC vector types of a fixed width whatever the machine (sixteen
// floats, eight doubles: one AVX-512 register, two AVX2 ones, four SSE2 ones) make every variant
// do the same operations per lane in the same order, and this file is compiled without
// contraction into fused multiply-adds (CMakeLists.txt): the same bits everywhere
// (sample_products_test compares every variant the machine has).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LINEAGE_PRODUCT_ISAS 1
#define LINEAGE_TARGET_V3 [[gnu::target("arch=x86-64-v3")]]
#define LINEAGE_TARGET_V4 [[gnu::target("arch=x86-64-v4")]]
#else
#define LINEAGE_PRODUCT_ISAS 0
#define LINEAGE_TARGET_V3
#define LINEAGE_TARGET_V4
#endif
using f16 = float __attribute__((vector_size(64)));
using d8 = double __attribute__((vector_size(64)));
constexpr std::size_t kFloatLanes = 16, kDoubleLanes = 8;
/// Units summed in float before their sum is added to a Gram entry's double total: the float
/// part's rounding then grows with this count, not with every unit of a large tensor.
constexpr std::size_t kUnitsPerFloatSum = 64;
/// Gram rows computed together (four accumulators of sixteen lanes: eight AVX2 registers).
constexpr std::size_t kGramRows = 4;  // upper_gram names its four accumulators

std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

/// The named rows, `width` values each (zero beyond obs), one after the other, as T.
template <typename T>
std::vector<T> gathered(const float* x, std::span<const std::uint32_t> units, std::uint64_t obs, std::size_t rows,
                        std::size_t width) {
  std::vector<T> out(rows * width, T{0});
  for (std::size_t n = 0; n < units.size(); ++n) {
    const float* src = x + static_cast<std::size_t>(units[n]) * obs;
    std::copy(src, src + obs, out.begin() + static_cast<std::ptrdiff_t>(n * width));
  }
  return out;
}

/// The upper triangle (q >= p, whole sixteen-column chunks from the one holding p) of the Gram
/// X^T X of `units` rows of `width` floats (zero past `obs`), in double: g[p * width + q], for
/// p and q below obs rounded up to the chunks.
[[gnu::always_inline]] inline void upper_gram(const float* rows, std::size_t units, std::size_t obs, std::size_t width,
                                              double* g) {
  for (std::size_t p0 = 0; p0 < obs; p0 += kGramRows) {
    for (std::size_t q0 = p0 / kFloatLanes * kFloatLanes; q0 < obs; q0 += kFloatLanes) {
      d8 lo[kGramRows] = {}, hi[kGramRows] = {};  // lanes 0-7 and 8-15 of each row's chunk
      for (std::size_t n0 = 0; n0 < units; n0 += kUnitsPerFloatSum) {
        // Four named accumulators: as an array GCC kept them in memory.
        f16 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
        const std::size_t n1 = std::min(units, n0 + kUnitsPerFloatSum);
        for (std::size_t n = n0; n < n1; ++n) {
          const float* row = rows + n * width;
          f16 chunk;
          std::memcpy(&chunk, row + q0, sizeof chunk);
          acc0 += row[p0] * chunk;
          acc1 += row[p0 + 1] * chunk;
          acc2 += row[p0 + 2] * chunk;
          acc3 += row[p0 + 3] * chunk;
        }
        const f16 acc[kGramRows] = {acc0, acc1, acc2, acc3};
        for (std::size_t i = 0; i < kGramRows; ++i) {
          lo[i] += __builtin_convertvector(__builtin_shufflevector(acc[i], acc[i], 0, 1, 2, 3, 4, 5, 6, 7), d8);
          hi[i] += __builtin_convertvector(__builtin_shufflevector(acc[i], acc[i], 8, 9, 10, 11, 12, 13, 14, 15), d8);
        }
      }
      for (std::size_t i = 0; i < kGramRows; ++i) {
        std::memcpy(g + (p0 + i) * width + q0, &lo[i], sizeof lo[i]);
        std::memcpy(g + (p0 + i) * width + q0 + kDoubleLanes, &hi[i], sizeof hi[i]);
      }
    }
  }
}

/// sum over i, k of <x_i, y_k>^2 for `units` rows of `width` doubles each (x rows padded to an
/// even count, y rows to a multiple of two as well, with zero rows, which add nothing).
[[gnu::always_inline]] inline double cross_squares(const double* x, const double* y, std::size_t units,
                                                   std::size_t width) {
  double total = 0;
  for (std::size_t i0 = 0; i0 < units; i0 += 2) {
    for (std::size_t k0 = 0; k0 < units; k0 += 2) {
      d8 acc[2][2] = {};
      for (std::size_t r = 0; r < width; r += kDoubleLanes) {
        d8 xv[2], yv[2];
        for (std::size_t j = 0; j < 2; ++j) {
          std::memcpy(&xv[j], x + (i0 + j) * width + r, sizeof xv[j]);
          std::memcpy(&yv[j], y + (k0 + j) * width + r, sizeof yv[j]);
        }
        for (std::size_t i = 0; i < 2; ++i) {
          for (std::size_t k = 0; k < 2; ++k) acc[i][k] += xv[i] * yv[k];
        }
      }
      for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t k = 0; k < 2; ++k) {
          const d8& a = acc[i][k];
          const double d = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
          total += d * d;
        }
      }
    }
  }
  return total;
}

void upper_gram_baseline(const float* rows, std::size_t units, std::size_t obs, std::size_t width, double* g) {
  upper_gram(rows, units, obs, width, g);
}
LINEAGE_TARGET_V3 void upper_gram_v3(const float* rows, std::size_t units, std::size_t obs, std::size_t width,
                                     double* g) {
  upper_gram(rows, units, obs, width, g);
}
LINEAGE_TARGET_V4 void upper_gram_v4(const float* rows, std::size_t units, std::size_t obs, std::size_t width,
                                     double* g) {
  upper_gram(rows, units, obs, width, g);
}
double cross_squares_baseline(const double* x, const double* y, std::size_t units, std::size_t width) {
  return cross_squares(x, y, units, width);
}
LINEAGE_TARGET_V3 double cross_squares_v3(const double* x, const double* y, std::size_t units, std::size_t width) {
  return cross_squares(x, y, units, width);
}
LINEAGE_TARGET_V4 double cross_squares_v4(const double* x, const double* y, std::size_t units, std::size_t width) {
  return cross_squares(x, y, units, width);
}

}  // namespace

std::vector<NullIsa> null_isas() {
  std::vector<NullIsa> out{NullIsa::baseline};
#if LINEAGE_PRODUCT_ISAS
  if (__builtin_cpu_supports("x86-64-v3")) out.push_back(NullIsa::x86_64_v3);
  if (__builtin_cpu_supports("x86-64-v4")) out.push_back(NullIsa::x86_64_v4);
#endif
  return out;
}

NullIsa widest_null_isa() {
  static const NullIsa widest = null_isas().back();
  return widest;
}

double gram_inner_product(const float* x, const float* y, std::span<const std::uint32_t> units, std::uint64_t obs,
                          NullIsa isa) {
  const std::size_t width = round_up(static_cast<std::size_t>(obs), kFloatLanes);
  std::vector<double> gx(width * width), gy(width * width);
  const auto m = static_cast<std::size_t>(obs);
  const auto gram = null_variant(isa, &upper_gram_baseline, &upper_gram_v3, &upper_gram_v4);
  gram(gathered<float>(x, units, obs, units.size(), width).data(), units.size(), m, width, gx.data());
  gram(gathered<float>(y, units, obs, units.size(), width).data(), units.size(), m, width, gy.data());
  // The whole Gram's inner product from its upper triangle, in a fixed order.
  double diagonal = 0, above = 0;
  for (std::size_t p = 0; p < obs; ++p) {
    diagonal += gx[p * width + p] * gy[p * width + p];
    for (std::size_t q = p + 1; q < obs; ++q) above += gx[p * width + q] * gy[p * width + q];
  }
  return diagonal + 2 * above;
}

void row_gram(const float* x, std::span<const std::uint32_t> units, std::uint64_t obs, double* g, NullIsa isa) {
  // upper_gram sums over rows: here the observations, each row the named units' values there.
  const std::size_t n = units.size(), width = round_up(n, kFloatLanes), m = static_cast<std::size_t>(obs);
  std::vector<float> by_observation(m * width, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    const float* src = x + static_cast<std::size_t>(units[i]) * m;
    for (std::size_t r = 0; r < m; ++r) by_observation[r * width + i] = src[r];
  }
  std::vector<double> upper(width * width);
  null_variant(isa, &upper_gram_baseline, &upper_gram_v3, &upper_gram_v4)(by_observation.data(), m, n, width,
                                                                          upper.data());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i; j < n; ++j) g[i * n + j] = g[j * n + i] = upper[i * width + j];
  }
}

double cross_product_squares(const float* x, const float* y, std::span<const std::uint32_t> units, std::uint64_t obs,
                             NullIsa isa) {
  const std::size_t width = round_up(static_cast<std::size_t>(obs), kDoubleLanes);
  const std::size_t rows = round_up(units.size(), 2);
  return null_variant(isa, &cross_squares_baseline, &cross_squares_v3, &cross_squares_v4)(
      gathered<double>(x, units, obs, rows, width).data(), gathered<double>(y, units, obs, rows, width).data(), rows,
      width);
}

}  // namespace lineage::stages
