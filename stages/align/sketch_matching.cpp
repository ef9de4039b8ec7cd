#include "stages/align/sketch_matching.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>

#include "core/errors.hpp"
#include "stages/align/assignment.hpp"
#include "stages/align/relabelled_null.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

using Matrix = ScoreMatrix;

/// Per expert and projection: the log variances (diagonal) and correlations (upper triangle) of
/// the sketch, each entry centred over the model's experts of the layer (what all experts share,
/// e.g. outlier hidden dimensions, says nothing about which expert is which), then each
/// projection's block scaled to unit length. Row e: expert e, projections side by side.
Matrix features(const LayerSketches& s) {
  const auto e_n = static_cast<Eigen::Index>(s.experts);
  const auto width = static_cast<Eigen::Index>(kSketchWidth);
  Matrix f(e_n, static_cast<Eigen::Index>(s.projections) * width);
  for (std::size_t e = 0; e < s.experts; ++e) {
    for (std::size_t p = 0; p < s.projections; ++p) {
      const float* c = s.data.data() + (e * s.projections + p) * kSketchWidth;
      const auto col0 = static_cast<Eigen::Index>(p) * width;
      for (std::size_t i = 0; i < kSketchDims; ++i) {
        for (std::size_t j = i; j < kSketchDims; ++j) {
          const double vi = c[sketch_index(i, i)], vj = c[sketch_index(j, j)], cij = c[sketch_index(i, j)];
          double v = 0;
          if (i == j) {
            v = std::log(std::max(vi, 1e-30));
          } else if (vi > 0 && vj > 0 && std::isfinite(cij)) {
            v = cij / std::sqrt(vi * vj);
          }
          f(static_cast<Eigen::Index>(e), col0 + static_cast<Eigen::Index>(sketch_index(i, j))) = v;
        }
      }
    }
  }
  f.rowwise() -= f.colwise().mean();
  for (Eigen::Index e = 0; e < e_n; ++e) {
    for (std::size_t p = 0; p < s.projections; ++p) {
      auto block = f.row(e).segment(static_cast<Eigen::Index>(p) * width, width);
      const double n = block.norm();
      if (n > 0) block /= n;
    }
  }
  return f;
}

/// Feature columns of the other model after relabelling its sketched hidden dimensions by perm:
/// entry (i, j) of the relabelled sketch is entry (perm[i], perm[j]) of the original.
std::vector<Eigen::Index> relabelled_columns(const std::vector<std::size_t>& perm, std::size_t projections) {
  std::vector<Eigen::Index> cols(projections * kSketchWidth);
  for (std::size_t p = 0; p < projections; ++p) {
    for (std::size_t i = 0; i < kSketchDims; ++i) {
      for (std::size_t j = i; j < kSketchDims; ++j) {
        const auto a = std::min(perm[i], perm[j]), b = std::max(perm[i], perm[j]);
        cols[p * kSketchWidth + sketch_index(i, j)] = static_cast<Eigen::Index>(p * kSketchWidth + sketch_index(a, b));
      }
    }
  }
  return cols;
}

/// The assignment of the smaller side into the larger: per suspect expert the other's (-1: none).
std::vector<int> assign(const Matrix& s) {
  const auto rows = static_cast<std::size_t>(s.rows()), cols = static_cast<std::size_t>(s.cols());
  std::vector<int> match(rows, -1);
  if (rows <= cols) {
    const auto m = max_assignment(std::span<const double>(s.data(), static_cast<std::size_t>(s.size())), rows, cols);
    for (std::size_t i = 0; i < rows; ++i) match[i] = static_cast<int>(m[i]);
  } else {
    const Matrix t = s.transpose();
    const auto m = max_assignment(std::span<const double>(t.data(), static_cast<std::size_t>(t.size())), cols, rows);
    for (std::size_t j = 0; j < cols; ++j) match[m[j]] = static_cast<int>(j);
  }
  return match;
}

double matched_mean(const Matrix& s, const std::vector<int>& match) {
  double t = 0;
  int n = 0;
  for (std::size_t i = 0; i < match.size(); ++i) {
    if (match[i] < 0) continue;
    t += s(static_cast<Eigen::Index>(i), match[i]);
    ++n;
  }
  return n > 0 ? t / n : std::numeric_limits<double>::quiet_NaN();
}

SketchMatching compute_matching(const LayerSketches& suspect, const LayerSketches& other, std::uint64_t seed,
                                const SketchNull& plan) {
  if (suspect.projections != other.projections || suspect.projections == 0 || suspect.experts < 2 ||
      other.experts < 2 || suspect.data.size() != suspect.experts * suspect.projections * kSketchWidth ||
      other.data.size() != other.experts * other.projections * kSketchWidth) {
    throw InternalError("match_experts_by_sketch: shapes");
  }
  const Matrix fa = features(suspect), fb = features(other);
  const double scale = 1.0 / static_cast<double>(suspect.projections);
  const Matrix s = fa * fb.transpose() * scale;
  SketchMatching out;
  out.match = assign(s);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<bool> taken(other.experts, false);
  for (std::size_t i = 0; i < suspect.experts; ++i) {
    const int m = out.match[i];
    if (m < 0) {
      out.score.push_back(nan);
      out.margin.push_back(nan);
      out.unmatched_suspect.push_back(static_cast<int>(i));
      continue;
    }
    taken[static_cast<std::size_t>(m)] = true;
    const auto row = static_cast<Eigen::Index>(i);
    double second = -std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < s.cols(); ++j) {
      if (j != m) second = std::max(second, s(row, j));
    }
    out.score.push_back(s(row, m));
    out.margin.push_back(s(row, m) - second);
    out.in_place += m == static_cast<int>(i) ? 1 : 0;
  }
  for (std::size_t j = 0; j < other.experts; ++j) {
    if (!taken[j]) out.unmatched_other.push_back(static_cast<int>(j));
  }
  out.matched_mean = matched_mean(s, out.match);
  const auto matched = out.match.size() - out.unmatched_suspect.size();
  if (plan.skip_unmoved && static_cast<std::size_t>(out.in_place) == matched) {
    return out;  // every matched expert in place: p = 1, permutations = 0, nothing to decide
  }
  Relabelling rng(seed);
  std::vector<std::size_t> perm(kSketchDims);
  std::iota(perm.begin(), perm.end(), 0u);
  const auto next_columns = [&](std::vector<Eigen::Index>& columns) {
    rng.shuffle(perm);
    columns = relabelled_columns(perm, other.projections);
  };
  const auto maximised = [](const Matrix& scores) { return matched_mean(scores, assign(scores)); };
  // Whole batches of relabellings, so that the null after a look is the one-call null's bits.
  const int first =
      plan.first > 0
          ? std::min((plan.first + kRelabellingBatch - 1) / kRelabellingBatch * kRelabellingBatch, plan.permutations)
          : plan.permutations;
  auto null = relabelled_null(fa, fb, first, next_columns, scale, maximised);
  auto test = permutation_test(out.matched_mean, null);
  if (first < plan.permutations && !(test.null_sd > 0 && test.exceed == 0 &&
                                     (out.matched_mean - test.null_mean) / test.null_sd >= plan.decisive_z)) {
    // Not decisive: the rest of the stream, as one null of all `permutations` would draw it.
    const auto rest = relabelled_null(fa, fb, plan.permutations - first, next_columns, scale, maximised);
    null.insert(null.end(), rest.begin(), rest.end());
    test = permutation_test(out.matched_mean, null);
  }
  out.permutations = test.permutations;
  out.null_mean = test.null_mean;
  out.null_sd = test.null_sd;
  out.p = test.p;
  return out;
}

}  // namespace

SketchMatching match_experts_by_sketch(const LayerSketches& suspect, const LayerSketches& other, std::uint64_t seed,
                                       const SketchNull& null) {
  static MatchingMemo<SketchMatching> memo;
  MatchingKey key;
  const std::uint64_t head[] = {suspect.experts,
                                suspect.projections,
                                suspect.data.size(),
                                other.experts,
                                other.projections,
                                other.data.size(),
                                seed,
                                static_cast<std::uint64_t>(null.permutations),
                                static_cast<std::uint64_t>(null.first),
                                std::bit_cast<std::uint64_t>(null.decisive_z),
                                null.skip_unmoved ? 1U : 0U};
  key.add(head).add(suspect.data).add(other.data);
  return memo.get(key.digest(), [&] { return compute_matching(suspect, other, seed, null); });
}

double agreement_p(int agreements) {
  if (agreements <= 0) return 1.0;
  // The tail sum_{i >= c} e^-1 / i! directly (1 minus the head would cancel for large c).
  double term = std::exp(-1.0);
  for (int i = 1; i <= agreements; ++i) term /= i;
  double tail = 0;
  for (int i = agreements; i < agreements + 40 && term > 0; ++i) {
    tail += term;
    term /= (i + 1);
  }
  return std::min(1.0, tail);
}

}  // namespace lineage::stages
