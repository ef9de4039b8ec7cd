#include "stages/behaviour/proportion_tests.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lineage::stages {
namespace {

double log_choose(std::uint64_t n, std::uint64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double lo = 0.02425;
  if (p < lo) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

double normal_two_sided_p(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

std::pair<double, double> two_proportion_z(std::uint64_t x1, std::uint64_t n1, std::uint64_t x2, std::uint64_t n2) {
  if (n1 == 0 || n2 == 0) return {0.0, 1.0};
  const double p1 = static_cast<double>(x1) / static_cast<double>(n1);
  const double p2 = static_cast<double>(x2) / static_cast<double>(n2);
  const double pooled = static_cast<double>(x1 + x2) / static_cast<double>(n1 + n2);
  const double var = pooled * (1 - pooled) * (1.0 / static_cast<double>(n1) + 1.0 / static_cast<double>(n2));
  if (!(var > 0)) return {0.0, 1.0};
  const double z = (p1 - p2) / std::sqrt(var);
  return {z, normal_two_sided_p(z)};
}

double fisher_exact_two_sided(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  // Margins: row1 = a + b, col1 = a + c, n; the table is fixed by its top-left cell x.
  const std::uint64_t row1 = a + b, col1 = a + c, n = a + b + c + d;
  const std::uint64_t lo = col1 > n - row1 ? col1 - (n - row1) : 0, hi = std::min(row1, col1);
  const double denom = log_choose(n, col1);
  auto logp = [&](std::uint64_t x) { return log_choose(row1, x) + log_choose(n - row1, col1 - x) - denom; };
  const double observed = logp(a);
  double p = 0;
  for (std::uint64_t x = lo; x <= hi; ++x) {
    const double l = logp(x);
    if (l <= observed + 1e-7 * std::abs(observed) + 1e-12) p += std::exp(l);  // relative tolerance as R
  }
  return std::min(1.0, p);
}

double mcnemar_exact(std::uint64_t b, std::uint64_t c) {
  const std::uint64_t n = b + c;
  if (n == 0) return 1.0;
  const std::uint64_t k = std::min(b, c);
  double tail = 0;
  for (std::uint64_t i = 0; i <= k; ++i) tail += std::exp(log_choose(n, i) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2 * tail);
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const std::size_t m = p.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return p[i] < p[j]; });
  std::vector<double> adjusted(m);
  double running = 0;
  for (std::size_t rank = 0; rank < m; ++rank) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - rank) * p[order[rank]]));
    adjusted[order[rank]] = running;
  }
  return adjusted;
}

std::pair<double, double> wilson_interval(std::uint64_t x, std::uint64_t n, double alpha) {
  if (n == 0) return {0.0, 1.0};
  const double z = normal_quantile(1 - alpha / 2);
  const double nn = static_cast<double>(n), p = static_cast<double>(x) / nn;
  const double centre = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace lineage::stages
