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
#include "stages/null/hidden_null.hpp"
#include "stages/null/sample_products.hpp"

namespace lineage::stages {
namespace {

using Rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Per row of the m x I score matrix, the columns of its `t` best scores (one pass per row,
/// keeping the best t in a small sorted buffer).
std::vector<std::uint64_t> candidate_columns(const Rows& s, std::uint64_t t) {
  const auto cols = static_cast<std::uint64_t>(s.cols());
  const auto keep = static_cast<std::size_t>(std::min(t, cols));
  std::vector<std::uint64_t> all;
  std::vector<std::pair<float, std::uint64_t>> best;
  for (Eigen::Index i = 0; i < s.rows(); ++i) {
    best.clear();
    const float* row = s.row(i).data();
    for (std::uint64_t c = 0; c < cols; ++c) {
      const float x = row[c];
      if (best.size() == keep && !(x > best.back().first)) continue;
      if (best.size() == keep) best.pop_back();
      const auto at = std::upper_bound(best.begin(), best.end(), x, [](float v, const auto& e) { return v > e.first; });
      best.insert(at, {x, c});
    }
    for (const auto& [x, c] : best) all.push_back(c);
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

HiddenSplit split_hidden(std::uint64_t hidden, const NeuronMatchOptions& options) {
  HiddenSplit out;
  const std::uint64_t w = std::max<std::uint64_t>(options.block, 1), blocks = hidden / w;
  // Blocks in hash order: the first ones are S1, the next ones S2 (hash_chosen sorts, so rank
  // them again by hash here).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> order;
  const std::uint64_t salt = options.seed ^ 0x736b65746368ULL;  // "sketch"
  for (std::uint64_t b = 0; b < blocks; ++b) order.emplace_back(XXH3_64bits_withSeed(&b, sizeof b, salt), b);
  std::sort(order.begin(), order.end());
  const std::uint64_t k = std::min(options.sketch_dims / w, blocks / 2);
  std::vector<bool> in_sketch(hidden, false);
  for (std::uint64_t i = 0; i < k; ++i) {
    for (std::uint64_t d = order[i].second * w; d < (order[i].second + 1) * w; ++d) in_sketch[d] = true;
  }
  for (std::uint64_t d = 0; d < hidden; ++d) {
    if (in_sketch[d]) out.sketch.push_back(d);
  }
  if (hidden - out.sketch.size() <= options.heldout_dims) {
    for (std::uint64_t d = 0; d < hidden; ++d) {
      if (!in_sketch[d]) out.heldout.push_back(d);
    }
    return out;
  }
  std::vector<bool> held(hidden, false);
  for (std::uint64_t i = k; i < blocks && (i - k + 1) * w <= options.heldout_dims; ++i) {
    for (std::uint64_t d = order[i].second * w; d < (order[i].second + 1) * w; ++d) held[d] = true;
  }
  for (std::uint64_t d = 0; d < hidden; ++d) {
    if (held[d]) out.heldout.push_back(d);
  }
  return out;
}

NeuronMatching match_neurons(std::uint64_t neurons, std::uint64_t hidden, const NeuronSource& suspect,
                             const NeuronSource& other, const NeuronMatchOptions& options) {
  NeuronMatching out;
  out.matched.observed = std::numeric_limits<double>::quiet_NaN();
  if (neurons < 4 || hidden < 16) return out;
  const auto [s1, s2] = split_hidden(hidden, options);
  if (s1.empty() || s2.size() < 3) return out;
  const auto k = static_cast<Eigen::Index>(s1.size()), n2 = static_cast<Eigen::Index>(s2.size());
  const auto sampled = sampled_neurons(neurons, options);
  const auto m = static_cast<Eigen::Index>(sampled.size());
  // The suspect's sampled neurons at S1 (matching) and at S2 (the held-out statistic).
  Rows a1(m, k), a2(m, n2);
  suspect.some_at(sampled, s1, a1.data());
  suspect.some_at(sampled, s2, a2.data());
  // Screen: every neuron of the other at the first blocks of S1 (all of S1 for small MLPs, where
  // every neuron is a candidate), and each sampled neuron's best candidates there.
  std::vector<std::uint64_t> columns;
  if (neurons <= options.screen_below) {
    columns.resize(neurons);
    std::iota(columns.begin(), columns.end(), 0u);
  } else {
    const auto ks = std::min<std::size_t>(s1.size(), options.screen_dims);
    const std::span<const std::uint64_t> screen(s1.data(), ks);
    Rows bs(static_cast<Eigen::Index>(neurons), static_cast<Eigen::Index>(ks));
    other.all_at(screen, bs.data());
    for (Eigen::Index j = 0; j < bs.rows(); ++j) standardise(bs.row(j).data(), ks);
    Rows as = a1.leftCols(static_cast<Eigen::Index>(ks));
    for (Eigen::Index i = 0; i < m; ++i) standardise(as.row(i).data(), ks);
    const Rows score = as * bs.transpose();  // m x neurons
    // A one-to-one matching needs at least m columns: widen until there are.
    for (std::uint64_t t = options.candidates;; t *= 2) {
      columns = candidate_columns(score, t);
      if (columns.size() >= sampled.size() || t >= neurons) break;
    }
  }
  std::vector<bool> varies(sampled.size());
  for (Eigen::Index i = 0; i < m; ++i) {
    standardise(a1.row(i).data(), s1.size());
    varies[static_cast<std::size_t>(i)] = standardise(a2.row(i).data(), s2.size());
  }
  // The candidates on all of S1, and the assignment maximising the summed score.
  Rows b1(static_cast<Eigen::Index>(columns.size()), k);
  other.some_at(columns, s1, b1.data());
  for (Eigen::Index j = 0; j < b1.rows(); ++j) standardise(b1.row(j).data(), s1.size());
  const Rows score = a1 * b1.transpose();  // m x candidates
  std::vector<double> sub(score.size());
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index c = 0; c < score.cols(); ++c) sub[static_cast<std::size_t>(i * score.cols() + c)] = score(i, c);
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
  Rows matched_rows(m, n2), x(m, n2), y(m, n2);
  other.some_at(out.match, s2, matched_rows.data());
  Eigen::Index u = 0;
  for (Eigen::Index i = 0; i < m; ++i) {
    y.row(u) = matched_rows.row(i);
    if (!varies[static_cast<std::size_t>(i)] || !standardise(y.row(u).data(), s2.size())) continue;
    x.row(u) = a2.row(i);
    ++u;
  }
  out.matched.units = static_cast<std::uint64_t>(u);
  out.matched.permutations = 0;
  if (u < 2) return out;
  const auto xs = x.topRows(u), ys = y.topRows(u);
  const double ud = static_cast<double>(u);
  out.matched.observed = static_cast<double>(xs.cwiseProduct(ys).sum()) / ud;
  // Exact relabelling moments: D = Xᵀ Y / u has zero row and column means (rows are centred), so
  // the mean is 0 and the variance sum(D²) / (n₂ − 1) = <X Xᵀ, Y Yᵀ> / (u² (n₂ − 1)). That
  // inner product by the null's kernels (stages/null/sample_products.hpp: a fixed order, the
  // same bits on every machine), whose rows are the held-out dimensions: on Xᵀ and Yᵀ.
  const auto dims = static_cast<std::size_t>(n2), rows = static_cast<std::size_t>(u);
  std::vector<float> xt(dims * rows), yt(dims * rows);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t p = 0; p < dims; ++p) {
      xt[p * rows + i] = xs(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(p));
      yt[p * rows + i] = ys(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(p));
    }
  }
  std::vector<std::uint32_t> all_dims(dims);
  std::iota(all_dims.begin(), all_dims.end(), 0u);
  // <X Xᵀ, Y Yᵀ> = ||Xᵀ Y||²: by the u x u Grams when u is the shorter side, else by Xᵀ Y itself.
  const double sum_d2 = rows <= dims ? gram_inner_product(xt.data(), yt.data(), all_dims, rows)
                                     : cross_product_squares(xt.data(), yt.data(), all_dims, rows);
  const double var = std::max(0.0, sum_d2) / (ud * ud * static_cast<double>(n2 - 1));
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
  // A neurons x hidden matrix in memory.
  class Matrix final : public NeuronSource {
   public:
    Matrix(std::span<const float> m, std::uint64_t n, std::uint64_t h) : m_(m), n_(n), h_(h) {}
    void all_at(std::span<const std::uint64_t> dims, float* out) const override {
      for (std::uint64_t j = 0; j < n_; ++j) row(j, dims, out + j * dims.size());
    }
    void some_at(std::span<const std::uint64_t> which, std::span<const std::uint64_t> dims, float* out) const override {
      for (std::size_t i = 0; i < which.size(); ++i) row(which[i], dims, out + i * dims.size());
    }

   private:
    void row(std::uint64_t j, std::span<const std::uint64_t> dims, float* out) const {
      for (std::size_t c = 0; c < dims.size(); ++c) out[c] = m_[j * h_ + dims[c]];
    }
    std::span<const float> m_;
    std::uint64_t n_, h_;
  };
  return match_neurons(neurons, hidden, Matrix(suspect, neurons, hidden), Matrix(other, neurons, hidden), options);
}

}  // namespace lineage::stages
