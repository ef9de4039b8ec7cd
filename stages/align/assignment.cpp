#include "stages/align/assignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.hpp"

namespace lineage::stages {

std::vector<std::size_t> max_assignment(std::span<const double> score, std::size_t rows, std::size_t cols) {
  if (rows > cols) throw InternalError("max_assignment: more rows than columns");
  if (score.size() != rows * cols) throw InternalError("max_assignment: score size");
  // A NaN never compares below the running minimum, so the augmenting search below would never
  // end: refuse it instead.
  if (!std::all_of(score.begin(), score.end(), [](double x) { return std::isfinite(x); })) {
    throw InternalError("max_assignment: non-finite score");
  }
  // Shortest augmenting paths with potentials (the e-maxx formulation), minimising -score;
  // 1-based with column 0 as the virtual start.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(rows + 1, 0.0), v(cols + 1, 0.0);
  std::vector<std::size_t> p(cols + 1, 0), way(cols + 1, 0);
  std::vector<double> minv(cols + 1);
  std::vector<char> used(cols + 1);  // bytes, not std::vector<bool>'s bits: the inner loop reads them
  for (std::size_t i = 1; i <= rows; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= cols; ++j) {
        if (used[j]) continue;
        const double cur = -score[(i0 - 1) * cols + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= cols; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::size_t> match(rows, 0);
  for (std::size_t j = 1; j <= cols; ++j) {
    if (p[j] != 0) match[p[j] - 1] = j - 1;
  }
  return match;
}

}  // namespace lineage::stages
