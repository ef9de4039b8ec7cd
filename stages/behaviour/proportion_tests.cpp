#include "stages/behaviour/proportion_tests.hpp"

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/hypergeometric.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <numeric>

namespace lineage::stages {

double normal_two_sided_p(double z) {
  return 2 * boost::math::cdf(boost::math::complement(boost::math::normal(), std::abs(z)));
}

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
  // Margins: row1 = a + b, col1 = a + c, n; the table is fixed by its top-left cell x, which is
  // hypergeometric: col1 draws from n items of which row1 are marked.
  const std::uint64_t row1 = a + b, col1 = a + c, n = a + b + c + d;
  if (n == 0) return 1.0;
  const boost::math::hypergeometric_distribution<double> h(row1, col1, n);
  const std::uint64_t lo = col1 > n - row1 ? col1 - (n - row1) : 0, hi = std::min(row1, col1);
  const double observed = boost::math::pdf(h, a);
  double p = 0;
  for (std::uint64_t x = lo; x <= hi; ++x) {
    const double px = boost::math::pdf(h, x);
    if (px <= observed * (1 + 1e-7)) p += px;  // relative tolerance as R
  }
  return std::min(1.0, p);
}

double mcnemar_exact(std::uint64_t b, std::uint64_t c) {
  const std::uint64_t n = b + c;
  if (n == 0) return 1.0;
  const boost::math::binomial_distribution<double> bin(static_cast<double>(n), 0.5);
  return std::min(1.0, 2 * boost::math::cdf(bin, static_cast<double>(std::min(b, c))));
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
  const double z = boost::math::quantile(boost::math::normal(), 1 - alpha / 2);
  const double nn = static_cast<double>(n), p = static_cast<double>(x) / nn;
  const double centre = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace lineage::stages
