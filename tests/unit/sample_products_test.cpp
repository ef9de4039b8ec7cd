#include "stages/null/sample_products.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace lineage::stages {
namespace {

/// `count` vectors of `obs` values around a shared direction (as standardised hidden units of a
/// trained matrix share a mean direction), one after the other.
std::vector<float> vectors(std::uint64_t count, std::uint64_t obs, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  std::vector<float> shared(obs), out(count * obs);
  for (auto& s : shared) s = noise(rng);
  for (std::uint64_t i = 0; i < count; ++i) {
    for (std::uint64_t r = 0; r < obs; ++r) out[i * obs + r] = 0.3f * shared[r] + noise(rng);
  }
  return out;
}

/// Every third unit, and the last: the valid units are a subset, in increasing order.
std::vector<std::uint32_t> some_units(std::uint64_t count) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < count; i += 3) out.push_back(i);
  if (out.back() != count - 1) out.push_back(static_cast<std::uint32_t>(count - 1));
  return out;
}

/// sum over i, k of <x_i, y_k>^2 the long way, in long double.
long double reference(const std::vector<float>& x, const std::vector<float>& y, const std::vector<std::uint32_t>& units,
                      std::uint64_t obs) {
  long double total = 0;
  for (auto i : units) {
    for (auto k : units) {
      long double d = 0;
      for (std::uint64_t r = 0; r < obs; ++r) {
        d += static_cast<long double>(x[i * obs + r]) * static_cast<long double>(y[k * obs + r]);
      }
      total += d * d;
    }
  }
  return total;
}

// Both kernels give sum D^2 of the formula, on shapes off every block size: units across the
// Grams' 64-unit float sums, observations off the sixteen and eight lanes, an odd unit count for
// D's pairs of rows, one unit, one observation.
TEST(SampleProducts, BothKernelsGiveTheSumOfSquaredCrossProducts) {
  for (const auto& [count, obs] : {std::pair<std::uint64_t, std::uint64_t>{1, 1},
                                   {2, 1},
                                   {5, 3},
                                   {40, 17},
                                   {200, 33},
                                   {400, 70},
                                   {7, 1003},
                                   {3, 9}}) {
    const auto x = vectors(count, obs, 1), y = vectors(count, obs, 2);
    std::vector<std::uint32_t> all(count);
    for (std::uint32_t i = 0; i < count; ++i) all[i] = i;
    for (const auto& units : {some_units(count), all}) {
      const auto want = static_cast<double>(reference(x, y, units, obs));
      EXPECT_NEAR(gram_inner_product(x.data(), y.data(), units, obs), want, 1e-6 * want)
          << count << " x " << obs << ", " << units.size() << " units";
      EXPECT_NEAR(cross_product_squares(x.data(), y.data(), units, obs), want, 1e-12 * want)
          << count << " x " << obs << ", " << units.size() << " units";
    }
  }
}

// Thousands of units sharing a direction: the Grams' float sums stay short (64 units), so their
// rounding does not grow with the unit count.
TEST(SampleProducts, GramsStayAccurateOverManyUnits) {
  const std::uint64_t count = 8192, obs = 24;
  const auto x = vectors(count, obs, 5), y = vectors(count, obs, 5);
  std::vector<std::uint32_t> units(count);
  for (std::uint32_t i = 0; i < count; ++i) units[i] = i;
  // <X^T X, Y^T Y> in long double from the Grams themselves (the long way over 8192^2 pairs would
  // take minutes).
  std::vector<long double> gx(obs * obs, 0), gy(obs * obs, 0);
  for (std::uint64_t n = 0; n < count; ++n) {
    for (std::uint64_t p = 0; p < obs; ++p) {
      for (std::uint64_t q = 0; q < obs; ++q) {
        gx[p * obs + q] += static_cast<long double>(x[n * obs + p]) * x[n * obs + q];
        gy[p * obs + q] += static_cast<long double>(y[n * obs + p]) * y[n * obs + q];
      }
    }
  }
  long double want = 0;
  for (std::uint64_t i = 0; i < obs * obs; ++i) want += gx[i] * gy[i];
  EXPECT_NEAR(gram_inner_product(x.data(), y.data(), units, obs), static_cast<double>(want),
              2e-7 * static_cast<double>(want));
}

// The units' own Gram (the basis test's correlation matrices): every entry of both triangles
// against long double, on unit counts off the sixteen columns and four rows of a step, and
// observation counts across the 64-observation float sums.
TEST(SampleProducts, RowGramIsEveryInnerProductOfTheNamedRows) {
  for (const auto& [count, obs] :
       {std::pair<std::uint64_t, std::uint64_t>{1, 1}, {3, 5}, {20, 64}, {50, 65}, {130, 300}, {300, 513}}) {
    const auto x = vectors(count, obs, 6);
    std::vector<std::uint32_t> all(count);
    for (std::uint32_t i = 0; i < count; ++i) all[i] = i;
    for (const auto& units : {some_units(count), all}) {
      const std::size_t n = units.size();
      std::vector<double> g(n * n, -1.0);
      row_gram(x.data(), units, obs, g.data());
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          long double want = 0;
          for (std::uint64_t r = 0; r < obs; ++r) {
            want += static_cast<long double>(x[units[i] * obs + r]) * x[units[j] * obs + r];
          }
          // Float sums of at most 64 products: their rounding is relative to the products' sizes,
          // at most |x_i| |x_j| (an entry near 0 is not itself the scale).
          long double xx = 0, yy = 0;
          for (std::uint64_t r = 0; r < obs; ++r) {
            xx += static_cast<long double>(x[units[i] * obs + r]) * x[units[i] * obs + r];
            yy += static_cast<long double>(x[units[j] * obs + r]) * x[units[j] * obs + r];
          }
          const double scale = std::sqrt(static_cast<double>(xx * yy));
          ASSERT_NEAR(g[i * n + j], static_cast<double>(want), 1e-6 * scale)
              << count << " x " << obs << " (" << i << ", " << j << ")";
          ASSERT_EQ(g[i * n + j], g[j * n + i]);
        }
      }
    }
  }
}

// Every instruction set this machine runs gives the same bits (what keeps a cluster of mixed
// machines, and a re-run elsewhere, at one result).
TEST(SampleProducts, EveryInstructionSetGivesTheSameBits) {
  const auto isas = null_isas();
  ASSERT_EQ(isas.front(), NullIsa::baseline);
  EXPECT_EQ(widest_null_isa(), isas.back());
  for (const auto& [count, obs] : {std::pair<std::uint64_t, std::uint64_t>{300, 37}, {9, 2001}}) {
    const auto x = vectors(count, obs, 3), y = vectors(count, obs, 4);
    const auto units = some_units(count);
    const double gram = gram_inner_product(x.data(), y.data(), units, obs, NullIsa::baseline);
    const double cross = cross_product_squares(x.data(), y.data(), units, obs, NullIsa::baseline);
    std::vector<double> own(units.size() * units.size()), own_here(own.size());
    row_gram(x.data(), units, obs, own.data(), NullIsa::baseline);
    for (const auto isa : isas) {
      EXPECT_EQ(gram_inner_product(x.data(), y.data(), units, obs, isa), gram) << static_cast<int>(isa);
      EXPECT_EQ(cross_product_squares(x.data(), y.data(), units, obs, isa), cross) << static_cast<int>(isa);
      row_gram(x.data(), units, obs, own_here.data(), isa);
      EXPECT_EQ(own_here, own) << static_cast<int>(isa);
    }
  }
}

}  // namespace
}  // namespace lineage::stages
