#pragma once
/// @file proportion_tests.hpp
/// Small exact and asymptotic tests on counts, for the black-box behaviour test (METHODS §9):
/// pooled two-proportion z-test, Fisher's exact test on a 2x2 table, exact McNemar on the
/// discordant pairs, Holm–Bonferroni step-down and the Wilson score interval.

#include <cstdint>
#include <utility>
#include <vector>

namespace lineage::stages {

/// Two-sided p of a standard normal statistic.
[[nodiscard]] double normal_two_sided_p(double z);

/// Pooled two-proportion z-test of x1/n1 against x2/n2: the statistic and its two-sided p.
/// A pooled rate of 0 or 1 (no variance) gives z = 0, p = 1.
[[nodiscard]] std::pair<double, double> two_proportion_z(std::uint64_t x1, std::uint64_t n1, std::uint64_t x2,
                                                         std::uint64_t n2);

/// Fisher's exact two-sided p for [[a, b], [c, d]]: the total probability of every table with the
/// same margins that is no more likely than the observed one.
[[nodiscard]] double fisher_exact_two_sided(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d);

/// Exact McNemar: two-sided binomial p of the discordant counts b and c under Binomial(b+c, 1/2).
[[nodiscard]] double mcnemar_exact(std::uint64_t b, std::uint64_t c);

/// Holm–Bonferroni adjusted p-values (same order as the input), monotone and capped at 1.
[[nodiscard]] std::vector<double> holm_adjust(const std::vector<double>& p);

/// Wilson score interval for x/n at the two-sided level 1 - alpha.
[[nodiscard]] std::pair<double, double> wilson_interval(std::uint64_t x, std::uint64_t n, double alpha = 0.05);

}  // namespace lineage::stages
