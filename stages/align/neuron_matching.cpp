#include "stages/align/neuron_matching.hpp"

#include <xxhash.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "core/errors.hpp"
#include "stages/align/assignment.hpp"

namespace lineage::stages {
namespace {

using Rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The `count` indices of [0, n) with the smallest hashes under `salt`, ascending (all when
/// count >= n).
std::vector<std::uint64_t> hash_chosen(std::uint64_t n, std::uint64_t count, std::uint64_t salt) {
  std::vector<std::uint64_t> out;
  if (count >= n) {
    out.resize(n);
    std::iota(out.begin(), out.end(), 0u);
    return out;
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> h(n);
  for (std::uint64_t i = 0; i < n; ++i) h[i] = {XXH3_64bits_withSeed(&i, sizeof i, salt), i};
  std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(count), h.end());
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(h[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

/// Centres a row and scales it to unit length; non-finite values count as zero (as in the
/// permutation null). False when the row is (numerically) constant: it is then all zero.
bool standardise(float* v, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) v[i] = 0.0f;
    s += v[i];
  }
  const double mean = s / static_cast<double>(n);
  double q = 0;
  for (std::size_t i = 0; i < n; ++i) q += (v[i] - mean) * (v[i] - mean);
  if (!(q > 1e-30 * static_cast<double>(n))) {
    std::fill(v, v + n, 0.0f);
    return false;
  }
  const double inv = 1.0 / std::sqrt(q);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>((v[i] - mean) * inv);
  return true;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Per row of the m x I score matrix, the columns of its `t` best scores.
std::vector<std::uint64_t> candidate_columns(const Rows& s, std::uint64_t t) {
  const auto cols = static_cast<std::uint64_t>(s.cols());
  std::vector<std::uint64_t> all;
  std::vector<std::uint64_t> order(cols);
  for (Eigen::Index i = 0; i < s.rows(); ++i) {
    std::iota(order.begin(), order.end(), 0u);
    const auto keep = std::min(t, cols);
    std::nth_element(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep - 1), order.end(),
        [&](auto x, auto y) { return s(i, static_cast<Eigen::Index>(x)) > s(i, static_cast<Eigen::Index>(y)); });
    all.insert(all.end(), order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

}  // namespace

bool NeuronMatching::defined() const noexcept { return !sampled.empty() && std::isfinite(matched.observed); }

std::vector<std::uint64_t> sampled_neurons(std::uint64_t neurons, const NeuronMatchOptions& options) {
  return hash_chosen(neurons, options.sampled_neurons, options.seed ^ 0x73616d706c65ULL);  // "sample"
}

std::vector<std::uint64_t> sketch_dimensions(std::uint64_t hidden, const NeuronMatchOptions& options) {
  return hash_chosen(hidden, std::min(options.sketch_dims, hidden / 2), options.seed ^ 0x736b65746368ULL);  // "sketch"
}

NeuronMatching match_neurons(std::uint64_t neurons, std::uint64_t hidden, const NeuronValues& suspect,
                             const NeuronValues& other, const NeuronMatchOptions& options) {
  NeuronMatching out;
  out.matched.observed = std::numeric_limits<double>::quiet_NaN();
  if (neurons < 4 || hidden < 16) return out;
  const auto s1 = sketch_dimensions(hidden, options);
  std::vector<std::uint64_t> s2;
  s2.reserve(hidden - s1.size());
  for (std::uint64_t d = 0, j = 0; d < hidden; ++d) {
    if (j < s1.size() && s1[j] == d) {
      ++j;
    } else {
      s2.push_back(d);
    }
  }
  const auto k = static_cast<Eigen::Index>(s1.size()), n2 = static_cast<Eigen::Index>(s2.size());
  const auto sampled = sampled_neurons(neurons, options);
  const auto m = static_cast<Eigen::Index>(sampled.size());
  // The other's sketch: every neuron at S1.
  Rows b1(static_cast<Eigen::Index>(neurons), k);
  for (std::uint64_t j = 0; j < neurons; ++j) {
    float* row = b1.row(static_cast<Eigen::Index>(j)).data();
    other(j, s1, row);
    standardise(row, s1.size());
  }
  // The suspect's sampled neurons at S1 (matching) and at S2 (the held-out statistic).
  Rows a1(m, k), a2(m, n2);
  std::vector<bool> varies(sampled.size());
  for (Eigen::Index i = 0; i < m; ++i) {
    float* r1 = a1.row(i).data();
    float* r2 = a2.row(i).data();
    suspect(sampled[static_cast<std::size_t>(i)], s1, r1);
    suspect(sampled[static_cast<std::size_t>(i)], s2, r2);
    standardise(r1, s1.size());
    varies[static_cast<std::size_t>(i)] = standardise(r2, s2.size());
  }
  const Rows score = a1 * b1.transpose();  // m x neurons
  // The assignment over the union of every sampled neuron's best candidates (a one-to-one
  // matching needs at least m columns; widen until there are).
  std::vector<std::uint64_t> columns;
  for (std::uint64_t t = options.candidates;; t *= 2) {
    columns = candidate_columns(score, t);
    if (columns.size() >= sampled.size() || t >= neurons) break;
  }
  std::vector<double> sub(sampled.size() * columns.size());
  for (Eigen::Index i = 0; i < m; ++i) {
    for (std::size_t c = 0; c < columns.size(); ++c) {
      sub[static_cast<std::size_t>(i) * columns.size() + c] = score(i, static_cast<Eigen::Index>(columns[c]));
    }
  }
  const auto assigned = max_assignment(sub, sampled.size(), columns.size());
  std::vector<double> margins;
  for (Eigen::Index i = 0; i < m; ++i) {
    const auto j = columns[assigned[static_cast<std::size_t>(i)]];
    out.match.push_back(j);
    out.in_place += j == sampled[static_cast<std::size_t>(i)] ? 1 : 0;
    double best = -2, second = -2;
    for (Eigen::Index c = 0; c < score.cols(); ++c) {
      const double x = score(i, c);
      if (x > best) {
        second = best;
        best = x;
      } else if (x > second) {
        second = x;
      }
    }
    margins.push_back(second > -2 ? best - second : best);
  }
  out.sampled = sampled;
  out.sketch_dims = s1.size();
  out.heldout_dims = s2.size();
  out.margin = median(margins);
  // T on the held-out dimensions, over the neurons that vary there on both sides.
  Rows x(m, n2), y(m, n2);
  Eigen::Index u = 0;
  for (Eigen::Index i = 0; i < m; ++i) {
    float* yr = y.row(u).data();
    other(out.match[static_cast<std::size_t>(i)], s2, yr);
    if (!varies[static_cast<std::size_t>(i)] || !standardise(yr, s2.size())) continue;
    x.row(u) = a2.row(i);
    ++u;
  }
  out.matched.units = static_cast<std::uint64_t>(u);
  out.matched.permutations = 0;
  if (u < 2 || n2 < 3) return out;
  const auto xs = x.topRows(u), ys = y.topRows(u);
  const double ud = static_cast<double>(u);
  out.matched.observed = static_cast<double>(xs.cwiseProduct(ys).sum()) / ud;
  // Exact relabelling moments: D = Xᵀ Y / u has zero row and column means (rows are centred), so
  // the mean is 0 and the variance sum(D²) / (n₂ − 1) = <X Xᵀ, Y Yᵀ> / (u² (n₂ − 1)).
  const Eigen::MatrixXd gx = (xs * xs.transpose()).cast<double>(), gy = (ys * ys.transpose()).cast<double>();
  const double var = std::max(0.0, gx.cwiseProduct(gy).sum()) / (ud * ud * static_cast<double>(n2 - 1));
  out.matched.null_mean = 0;
  out.matched.null_sd = std::sqrt(var);
  out.matched.p =
      out.matched.null_sd > 0 ? 0.5 * std::erfc(out.matched.observed / out.matched.null_sd / std::sqrt(2.0)) : 1.0;
  return out;
}

NeuronMatching match_neurons(std::span<const float> suspect, std::span<const float> other, std::uint64_t neurons,
                             std::uint64_t hidden, const NeuronMatchOptions& options) {
  if (suspect.size() != neurons * hidden || other.size() != suspect.size()) {
    throw InternalError("match_neurons: shapes");
  }
  const auto reader = [hidden](std::span<const float> m) {
    return [m, hidden](std::uint64_t neuron, std::span<const std::uint64_t> dims, float* out) {
      for (std::size_t c = 0; c < dims.size(); ++c) out[c] = m[neuron * hidden + dims[c]];
    };
  };
  return match_neurons(neurons, hidden, reader(suspect), reader(other), options);
}

}  // namespace lineage::stages
