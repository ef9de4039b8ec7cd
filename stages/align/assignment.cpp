#include "stages/align/assignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Rectangular problems (rows < cols): shortest augmenting paths with potentials (the e-maxx
/// formulation), minimising -score; 1-based with column 0 as the virtual start.
std::vector<std::size_t> hungarian(std::span<const double> score, std::size_t rows, std::size_t cols) {
  std::vector<double> u(rows + 1, 0.0), v(cols + 1, 0.0);
  std::vector<std::size_t> p(cols + 1, 0), way(cols + 1, 0);
  std::vector<double> minv(cols + 1);
  std::vector<char> used(cols + 1);  // bytes, not std::vector<bool>'s bits: the inner loop reads them
  for (std::size_t i = 1; i <= rows; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const std::size_t i0 = p[j0];
      double delta = kInf;
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

/// Square problems: Jonker and Volgenant (1987), minimising cost = -score with column potentials
/// v. Column reduction and two rounds of augmenting row reduction assign most rows cheaply; the
/// rest get a shortest augmenting path (Dijkstra over reduced costs, with the potentials updated
/// lazily at its end). Several times faster than the Hungarian form above at the 128 x 128 the
/// expert matchings' nulls solve a hundred times per layer.
class JonkerVolgenant {
 public:
  JonkerVolgenant(std::span<const double> score, std::size_t n)
      : score_(score), n_(n), x_(n, kNone), y_(n, kNone), v_(n, kInf), d_(n), pred_(n), cols_(n) {}

  std::vector<std::size_t> solve() {
    std::vector<std::size_t> free_rows = column_reduction();
    for (int round = 0; round < 2 && !free_rows.empty(); ++round) free_rows = augmenting_row_reduction(free_rows);
    for (const std::size_t row : free_rows) augment(row);
    return {x_.begin(), x_.end()};
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  double cost(std::size_t i, std::size_t j) const { return -score_[i * n_ + j]; }

  /// v[j] = min_i cost; each column goes to its cheapest row unless that row already has one
  /// (scanning columns from the last); rows with exactly one column get their slack moved onto v.
  std::vector<std::size_t> column_reduction() {
    for (std::size_t i = 0; i < n_; ++i) {
      for (std::size_t j = 0; j < n_; ++j) {
        const double c = cost(i, j);
        if (c < v_[j]) {
          v_[j] = c;
          y_[j] = i;
        }
      }
    }
    std::vector<char> unique(n_, 1);
    for (std::size_t j = n_; j-- > 0;) {
      const std::size_t i = y_[j];
      if (x_[i] == kNone) {
        x_[i] = j;
      } else {
        unique[i] = 0;
        y_[j] = kNone;
      }
    }
    std::vector<std::size_t> free_rows;
    for (std::size_t i = 0; i < n_; ++i) {
      if (x_[i] == kNone) {
        free_rows.push_back(i);
      } else if (unique[i] != 0) {
        const std::size_t j = x_[i];
        double least = kInf;
        for (std::size_t j2 = 0; j2 < n_; ++j2) {
          if (j2 != j) least = std::min(least, cost(i, j2) - v_[j2]);
        }
        if (n_ > 1) v_[j] -= least;
      }
    }
    return free_rows;
  }

  /// Each free row takes its cheapest column, lowering that column's potential to the row's
  /// second-cheapest reduced cost; a displaced row is freed again. Bounded by rows x passes.
  std::vector<std::size_t> augmenting_row_reduction(std::vector<std::size_t> free_rows) {
    std::size_t current = 0, kept = 0, steps = 0;
    const std::size_t n_free = free_rows.size();
    while (current < n_free) {
      ++steps;
      const std::size_t row = free_rows[current++];
      std::size_t j1 = 0, j2 = kNone;
      double u1 = cost(row, 0) - v_[0], u2 = kInf;
      for (std::size_t j = 1; j < n_; ++j) {
        const double h = cost(row, j) - v_[j];
        if (h < u2) {
          if (h >= u1) {
            u2 = h;
            j2 = j;
          } else {
            u2 = u1;
            u1 = h;
            j2 = j1;
            j1 = j;
          }
        }
      }
      std::size_t i0 = y_[j1];
      const double v1_new = v_[j1] - (u2 - u1);
      const bool lowers = v1_new < v_[j1];
      if (steps < current * n_) {
        if (lowers) {
          v_[j1] = v1_new;
        } else if (i0 != kNone && j2 != kNone) {
          j1 = j2;
          i0 = y_[j2];
        }
        if (i0 != kNone) {
          if (lowers) {
            free_rows[--current] = i0;
          } else {
            free_rows[kept++] = i0;
          }
        }
      } else if (i0 != kNone) {
        free_rows[kept++] = i0;
      }
      x_[row] = j1;
      y_[j1] = row;
    }
    free_rows.resize(kept);
    return free_rows;
  }

  /// Moves the columns of least d among cols_[lo..] to cols_[lo..hi); returns hi.
  std::size_t least_columns(std::size_t lo) {
    std::size_t hi = lo + 1;
    double least = d_[cols_[lo]];
    for (std::size_t k = hi; k < n_; ++k) {
      const std::size_t j = cols_[k];
      if (d_[j] <= least) {
        if (d_[j] < least) {
          hi = lo;
          least = d_[j];
        }
        std::swap(cols_[k], cols_[hi]);
        ++hi;
      }
    }
    return hi;
  }

  /// Scans the rows matched to the columns in cols_[lo..hi) and relaxes the columns not yet
  /// reached; returns a free column reached at the least distance, or kNone. lo and hi move on
  /// only when none is found: otherwise cols_[lo] must stay a column at the least distance.
  std::size_t scan(std::size_t& lo_io, std::size_t& hi_io) {
    std::size_t lo = lo_io, hi = hi_io;
    while (lo != hi) {
      const std::size_t j = cols_[lo++];
      const std::size_t i = y_[j];
      const double least = d_[j];
      const double h = cost(i, j) - v_[j] - least;
      for (std::size_t k = hi; k < n_; ++k) {
        const std::size_t j2 = cols_[k];
        const double reduced = cost(i, j2) - v_[j2] - h;
        if (reduced < d_[j2]) {
          d_[j2] = reduced;
          pred_[j2] = i;
          if (reduced == least) {
            if (y_[j2] == kNone) return j2;
            cols_[k] = cols_[hi];
            cols_[hi++] = j2;
          }
        }
      }
    }
    lo_io = lo;
    hi_io = hi;
    return kNone;
  }

  /// The shortest augmenting path from a free row to a free column, then the flip along it.
  void augment(std::size_t start) {
    for (std::size_t j = 0; j < n_; ++j) {
      cols_[j] = j;
      pred_[j] = start;
      d_[j] = cost(start, j) - v_[j];
    }
    std::size_t lo = 0, hi = 0, ready = 0, end = kNone;
    while (end == kNone) {
      if (lo == hi) {
        ready = lo;
        hi = least_columns(lo);
        for (std::size_t k = lo; k < hi; ++k) {
          if (y_[cols_[k]] == kNone) {
            end = cols_[k];
            break;
          }
        }
      }
      if (end == kNone) end = scan(lo, hi);
    }
    const double least = d_[cols_[lo]];
    for (std::size_t k = 0; k < ready; ++k) {
      const std::size_t j = cols_[k];
      v_[j] += d_[j] - least;
    }
    std::size_t j = end;
    while (true) {
      const std::size_t i = pred_[j];
      y_[j] = i;
      std::swap(j, x_[i]);
      if (i == start) break;
    }
  }

  std::span<const double> score_;
  std::size_t n_;
  std::vector<std::size_t> x_, y_;  ///< row -> column, column -> row (kNone: free)
  std::vector<double> v_, d_;       ///< column potentials; distances of one path search
  std::vector<std::size_t> pred_, cols_;
};

}  // namespace

std::vector<std::size_t> max_assignment(std::span<const double> score, std::size_t rows, std::size_t cols) {
  if (rows > cols) throw InternalError("max_assignment: more rows than columns");
  if (score.size() != rows * cols) throw InternalError("max_assignment: score size");
  // A NaN never compares below the running minimum, so an augmenting search would never end:
  // refuse it instead.
  if (!std::all_of(score.begin(), score.end(), [](double x) { return std::isfinite(x); })) {
    throw InternalError("max_assignment: non-finite score");
  }
  if (rows == 0) return {};
  if (rows == cols) return JonkerVolgenant(score, rows).solve();
  return hungarian(score, rows, cols);
}

}  // namespace lineage::stages
