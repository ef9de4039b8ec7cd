#include "stages/align/expert_matching.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <utility>

#include "core/errors.hpp"
#include "stages/align/assignment.hpp"
#include "stages/align/relabelled_null.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

/// Rows centred and scaled to unit length (constant rows become zero). Non-finite values count
/// as zero, as in the permutation null: a NaN would make every score NaN and the assignment
/// meaningless (the verdict reports them separately).
std::vector<double> standardised_rows(std::span<const float> m, std::uint64_t rows, std::uint64_t cols,
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

using Matrix = ScoreMatrix;

Matrix as_matrix(const std::vector<double>& rows, std::uint64_t n, std::size_t k) {
  return Eigen::Map<const Matrix>(rows.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(k));
}

double matched_mean(const Matrix& s) {
  const auto rows = static_cast<std::size_t>(s.rows()), cols = static_cast<std::size_t>(s.cols());
  const auto m = max_assignment(std::span<const double>(s.data(), rows * cols), rows, cols);
  double t = 0;
  for (std::size_t i = 0; i < rows; ++i) t += s(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(m[i]));
  return t / static_cast<double>(rows);
}

ExpertMatching compute_matching(std::span<const float> suspect, std::uint64_t rows_s, std::span<const float> other,
                                std::uint64_t rows_o, std::uint64_t cols, std::uint64_t seed, int permutations) {
  // At most 1024 hidden columns (evenly spaced): the matching needs rows' directions, not all of them.
  std::vector<std::uint64_t> columns;
  const std::uint64_t step = std::max<std::uint64_t>(1, cols / 1024);
  for (std::uint64_t c = 0; c < cols; c += step) columns.push_back(c);
  const auto k = columns.size();
  const Matrix a = as_matrix(standardised_rows(suspect, rows_s, cols, columns), rows_s, k);
  const Matrix b = as_matrix(standardised_rows(other, rows_o, cols, columns), rows_o, k);
  const Matrix s = a * b.transpose();
  const auto m = max_assignment(std::span<const double>(s.data(), rows_s * rows_o), rows_s, rows_o);
  ExpertMatching out;
  std::vector<bool> taken(rows_o, false);
  for (std::uint64_t i = 0; i < rows_s; ++i) {
    const auto row = static_cast<Eigen::Index>(i);
    const double best = s(row, static_cast<Eigen::Index>(m[i]));
    double second = -1;
    for (std::uint64_t j = 0; j < rows_o; ++j) {
      if (j != m[i]) second = std::max(second, s(row, static_cast<Eigen::Index>(j)));
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
  // Null: the same maximisation after relabelling the other model's hidden axis (column c of a
  // relabelled row is column perm[c] of the original).
  Relabelling rng(seed);
  std::vector<std::size_t> perm(k);
  std::iota(perm.begin(), perm.end(), 0u);
  const auto next_columns = [&](std::vector<Eigen::Index>& relabelled) {
    rng.shuffle(perm);
    for (std::size_t c = 0; c < k; ++c) relabelled[c] = static_cast<Eigen::Index>(perm[c]);
  };
  const auto null = relabelled_null(a, b, permutations, next_columns, 1.0, matched_mean);
  const auto test = permutation_test(out.matched_mean, null);
  out.permutations = test.permutations;
  out.null_mean = test.null_mean;
  out.null_sd = test.null_sd;
  out.p = test.p;
  return out;
}

}  // namespace

ExpertMatching match_experts(std::span<const float> suspect, std::uint64_t rows_s, std::span<const float> other,
                             std::uint64_t rows_o, std::uint64_t cols, std::uint64_t seed, int permutations) {
  if (suspect.size() != rows_s * cols || other.size() != rows_o * cols || rows_s > rows_o || rows_s == 0) {
    throw InternalError("match_experts: shapes");
  }
  static MatchingMemo<ExpertMatching> memo;
  MatchingKey key;
  const std::uint64_t head[] = {rows_s, rows_o, cols, seed, static_cast<std::uint64_t>(permutations)};
  key.add(head).add(suspect).add(other);
  return memo.get(key.digest(),
                  [&] { return compute_matching(suspect, rows_s, other, rows_o, cols, seed, permutations); });
}

}  // namespace lineage::stages
