#include "stages/align/expert_matching.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/errors.hpp"
#include "stages/align/assignment.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

/// Rows centred and scaled to unit length (constant rows become zero). Non-finite values count
/// as zero, as in the permutation null: a NaN would make every score NaN and the assignment
/// meaningless (the verdict reports them separately).
std::vector<double> standardised_rows(const std::vector<float>& m, std::uint64_t rows, std::uint64_t cols,
                                      const std::vector<std::uint64_t>& columns) {
  const auto k = columns.size();
  std::vector<double> out(rows * k);
  const auto value = [&](std::uint64_t r, std::size_t c) -> double {
    const float x = m[r * cols + columns[c]];
    return std::isfinite(x) ? x : 0.0;
  };
  for (std::uint64_t r = 0; r < rows; ++r) {
    double mean = 0;
    for (std::size_t c = 0; c < k; ++c) mean += value(r, c);
    mean /= static_cast<double>(k);
    double q = 0;
    for (std::size_t c = 0; c < k; ++c) {
      const double d = value(r, c) - mean;
      out[r * k + c] = d;
      q += d * d;
    }
    const double inv = q > 0 ? 1.0 / std::sqrt(q) : 0.0;
    for (std::size_t c = 0; c < k; ++c) out[r * k + c] *= inv;
  }
  return out;
}

std::vector<double> similarity(const std::vector<double>& a, std::uint64_t ra, const std::vector<double>& b,
                               std::uint64_t rb, std::size_t k, const std::vector<std::size_t>& perm) {
  std::vector<double> s(ra * rb);
  for (std::uint64_t i = 0; i < ra; ++i) {
    for (std::uint64_t j = 0; j < rb; ++j) {
      double acc = 0;
      for (std::size_t c = 0; c < k; ++c) acc += a[i * k + c] * b[j * k + perm[c]];
      s[i * rb + j] = acc;
    }
  }
  return s;
}

double matched_mean(const std::vector<double>& s, std::uint64_t ra, std::uint64_t rb) {
  const auto m = max_assignment(s, ra, rb);
  double t = 0;
  for (std::uint64_t i = 0; i < ra; ++i) t += s[i * rb + m[i]];
  return t / static_cast<double>(ra);
}

}  // namespace

ExpertMatching match_experts(const std::vector<float>& suspect, std::uint64_t rows_s, const std::vector<float>& other,
                             std::uint64_t rows_o, std::uint64_t cols, std::uint64_t seed, int permutations) {
  if (suspect.size() != rows_s * cols || other.size() != rows_o * cols || rows_s > rows_o || rows_s == 0) {
    throw InternalError("match_experts: shapes");
  }
  // At most 1024 hidden columns (evenly spaced): the matching needs rows' directions, not all of them.
  std::vector<std::uint64_t> columns;
  const std::uint64_t step = std::max<std::uint64_t>(1, cols / 1024);
  for (std::uint64_t c = 0; c < cols; c += step) columns.push_back(c);
  const auto k = columns.size();
  const auto a = standardised_rows(suspect, rows_s, cols, columns), b = standardised_rows(other, rows_o, cols, columns);
  std::vector<std::size_t> identity(k);
  std::iota(identity.begin(), identity.end(), 0u);
  const auto s = similarity(a, rows_s, b, rows_o, k, identity);
  const auto m = max_assignment(s, rows_s, rows_o);
  ExpertMatching out;
  std::vector<bool> taken(rows_o, false);
  for (std::uint64_t i = 0; i < rows_s; ++i) {
    const double best = s[i * rows_o + m[i]];
    double second = -1;
    for (std::uint64_t j = 0; j < rows_o; ++j) {
      if (j != m[i]) second = std::max(second, s[i * rows_o + j]);
    }
    out.match.push_back(static_cast<int>(m[i]));
    out.score.push_back(best);
    out.margin.push_back(rows_o > 1 ? best - second : best);
    out.in_place += m[i] == i ? 1 : 0;
    taken[m[i]] = true;
    out.matched_mean += best;
  }
  out.matched_mean /= static_cast<double>(rows_s);
  out.unmatched_other = static_cast<int>(std::count(taken.begin(), taken.end(), false));
  // Null: the same maximisation after relabelling the other model's hidden axis.
  Relabelling rng(seed);
  std::vector<double> null;
  std::vector<std::size_t> perm = identity;
  for (int r = 0; r < permutations; ++r) {
    rng.shuffle(perm);
    null.push_back(matched_mean(similarity(a, rows_s, b, rows_o, k, perm), rows_s, rows_o));
  }
  const auto test = permutation_test(out.matched_mean, null);
  out.permutations = test.permutations;
  out.null_mean = test.null_mean;
  out.null_sd = test.null_sd;
  out.p = test.p;
  return out;
}

}  // namespace lineage::stages
