#include "stages/align/token_mapped_embedding.hpp"

#include <xxhash.h>

#include <Eigen/Dense>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

/// The fits run in float: each shuffle costs n·d² multiply-adds, and cosines of unit rows need
/// no more (the rows are centred and scaled in double first).
using FitMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A table's value as the tests read it: non-finite values count as zero (the pass reports them
/// in n_nonfinite).
double finite_or_zero(float v) noexcept { return std::isfinite(v) ? static_cast<double>(v) : 0.0; }

/// Row i of a table, centred by `mean` (the column means of the fitting rows) and scaled to unit
/// length in `row` (a zero row stays zero).
void centred_unit_row(std::span<const float> table, std::size_t i, const std::vector<double>& mean,
                      std::vector<double>& row) {
  const std::size_t d = mean.size();
  double squares = 0;
  for (std::size_t j = 0; j < d; ++j) {
    row[j] = finite_or_zero(table[i * d + j]) - mean[j];
    squares += row[j] * row[j];
  }
  const double norm = std::sqrt(squares);
  if (norm > 0) {
    for (auto& v : row) v /= norm;
  }
}

/// Mean over rows of the dot product of unit rows (their cosine).
template <typename M>
double mean_row_cosine(const M& x, const M& y) {
  if (x.rows() == 0) return kNaN;
  return static_cast<double>((x.array() * y.array()).rowwise().sum().template cast<double>().mean());
}

struct Fit {
  double train = kNaN, heldout = kNaN;
};

/// Orthogonal Procrustes: R = U V^T from the SVD of X_train^T Y_train maximises tr(R^T X^T Y),
/// i.e. the summed cosine of the (unit) fitting rows; then measured on the held-out rows.
Fit procrustes(const FitMatrix& x_train, const FitMatrix& y_train, const FitMatrix& x_test, const FitMatrix& y_test) {
  const FitMatrix m = x_train.transpose() * y_train;
  const Eigen::BDCSVD<FitMatrix> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const FitMatrix r = svd.matrixU() * svd.matrixV().transpose();
  Fit f;
  f.train = mean_row_cosine<FitMatrix>(x_train * r, y_train);
  f.heldout = mean_row_cosine<FitMatrix>(x_test * r, y_test);
  return f;
}

}  // namespace

MappedRows compare_mapped_rows(std::span<const float> a, std::span<const float> b, std::uint64_t tokens,
                               std::uint64_t hidden, std::span<const std::uint64_t> ids_a,
                               std::span<const std::uint64_t> ids_b, std::uint64_t seed,
                               const MappedEmbeddingOptions& options) {
  if (a.size() != tokens * hidden || b.size() != tokens * hidden || ids_a.size() != tokens || ids_b.size() != tokens)
    throw InternalError("compare_mapped_rows: sizes disagree");
  MappedRows out;
  out.tokens = tokens;
  out.rotation.train_cosine = kNaN;
  out.rotation.heldout.observed = kNaN;
  out.raw_cosine = kNaN;
  if (tokens == 0 || hidden == 0) return out;
  std::size_t same = 0;
  std::vector<bool> train(tokens);
  for (std::size_t i = 0; i < tokens; ++i) {
    same += ids_a[i] == ids_b[i] ? 1 : 0;
    const std::uint64_t key[3] = {ids_a[i], ids_b[i], seed};
    train[i] = (XXH3_64bits(key, sizeof key) & 1u) == 0;
  }
  out.same_id_share = static_cast<double>(same) / static_cast<double>(tokens);
  std::vector<Eigen::Index> train_rows, test_rows;
  for (std::size_t i = 0; i < tokens; ++i) (train[i] ? train_rows : test_rows).push_back(static_cast<Eigen::Index>(i));
  auto& rot = out.rotation;
  rot.train = train_rows.size();
  rot.test = test_rows.size();
  const bool fits = static_cast<double>(train_rows.size()) >= options.min_train_per_dim * static_cast<double>(hidden) &&
                    test_rows.size() >= 2 && hidden <= options.max_hidden;

  // Row by row, never a table in double: 4,096 tokens at hidden 7,168 are 235 MB a table in
  // double, and the centred copies doubled that (a rank's peak went over 512 MB; docs/benchmarks.md).
  const std::size_t d = hidden;
  std::vector<double> mean_a(d, 0.0), mean_b(d, 0.0);
  for (const auto i : train_rows) {
    for (std::size_t j = 0; j < d; ++j) {
      mean_a[j] += finite_or_zero(a[static_cast<std::size_t>(i) * d + j]);
      mean_b[j] += finite_or_zero(b[static_cast<std::size_t>(i) * d + j]);
    }
  }
  if (!train_rows.empty()) {
    const auto count = static_cast<double>(train_rows.size());
    for (std::size_t j = 0; j < d; ++j) mean_a[j] /= count, mean_b[j] /= count;
  }
  // The fit's tables: the centred unit rows in float (only where a fit is made: hidden <= max_hidden).
  FitMatrix xf, yf;
  if (fits) xf.resize(static_cast<Eigen::Index>(tokens), static_cast<Eigen::Index>(d)), yf.resize(xf.rows(), xf.cols());
  std::vector<double> x(d), y(d);
  double cosines = 0;
  for (std::size_t i = 0; i < tokens; ++i) {
    centred_unit_row(a, i, mean_a, x);
    centred_unit_row(b, i, mean_b, y);
    double dot = 0;
    for (std::size_t j = 0; j < d; ++j) dot += x[j] * y[j];
    cosines += dot;
    if (fits) {
      for (std::size_t j = 0; j < d; ++j) {
        xf(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<float>(x[j]);
        yf(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<float>(y[j]);
      }
    }
  }
  out.raw_cosine = cosines / static_cast<double>(tokens);
  if (!fits) return out;
  const FitMatrix x_train = xf(train_rows, Eigen::all), x_test = xf(test_rows, Eigen::all);
  const Fit observed = procrustes(x_train, yf(train_rows, Eigen::all), x_test, yf(test_rows, Eigen::all));
  rot.train_cosine = observed.train;

  // Null: the same fit with the pairing shuffled within strata of similar row norm (of the
  // uncentred rows of A: norms follow token frequency), so frequent tokens stay paired with
  // frequent ones and only which token is which is lost.
  std::vector<Eigen::Index> by_norm(tokens);
  std::iota(by_norm.begin(), by_norm.end(), Eigen::Index{0});
  // The uncentred rows' norms of A.
  Eigen::VectorXd norms(static_cast<Eigen::Index>(tokens));
  for (std::size_t i = 0; i < tokens; ++i) {
    double squares = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const double v = finite_or_zero(a[i * d + j]);
      squares += v * v;
    }
    norms(static_cast<Eigen::Index>(i)) = std::sqrt(squares);
  }
  std::stable_sort(by_norm.begin(), by_norm.end(), [&](auto i, auto j) { return norms(i) < norms(j); });
  Relabelling rng(seed ^ 0x70726f6372757374ULL);  // "procrust"
  std::vector<double> null;
  null.reserve(static_cast<std::size_t>(std::max(options.permutations, 0)));
  std::vector<Eigen::Index> partner(tokens);
  const auto stratum = std::max<std::uint64_t>(options.stratum, 2);
  for (int k = 0; k < options.permutations; ++k) {
    for (std::size_t s = 0; s < tokens; s += stratum) {
      std::vector<Eigen::Index> block(by_norm.begin() + static_cast<std::ptrdiff_t>(s),
                                      by_norm.begin() + static_cast<std::ptrdiff_t>(std::min(tokens, s + stratum)));
      std::vector<Eigen::Index> shuffled = block;
      rng.shuffle(shuffled);
      for (std::size_t i = 0; i < block.size(); ++i) partner[static_cast<std::size_t>(block[i])] = shuffled[i];
    }
    std::vector<Eigen::Index> y_train(train_rows.size()), y_test(test_rows.size());
    for (std::size_t i = 0; i < train_rows.size(); ++i) y_train[i] = partner[static_cast<std::size_t>(train_rows[i])];
    for (std::size_t i = 0; i < test_rows.size(); ++i) y_test[i] = partner[static_cast<std::size_t>(test_rows[i])];
    null.push_back(procrustes(x_train, yf(y_train, Eigen::all), x_test, yf(y_test, Eigen::all)).heldout);
  }
  rot.heldout = permutation_test(observed.heldout, null);
  return out;
}

}  // namespace lineage::stages
