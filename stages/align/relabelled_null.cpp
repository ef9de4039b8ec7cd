#include "stages/align/relabelled_null.hpp"

#include <algorithm>
#include <new>

#include "core/errors.hpp"

namespace lineage::stages {

std::vector<double> relabelled_null(const ScoreMatrix& suspect, const ScoreMatrix& other, int permutations,
                                    const std::function<void(std::vector<Eigen::Index>&)>& next_columns, double scale,
                                    const std::function<double(const ScoreMatrix&)>& matched_mean) {
  using FloatMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  if (suspect.cols() != other.cols()) throw InternalError("relabelled_null: widths differ");
  const FloatMatrix a = suspect.cast<float>();
  const FloatMatrix b_t = other.transpose().cast<float>();  // k x other rows
  const Eigen::Index k = b_t.rows(), n_b = b_t.cols();
  FloatMatrix relabelled(k, n_b * kRelabellingBatch), batch(a.rows(), n_b * kRelabellingBatch);
  ScoreMatrix scores(a.rows(), n_b);
  std::vector<Eigen::Index> columns(static_cast<std::size_t>(k));
  std::vector<double> null;
  null.reserve(static_cast<std::size_t>(std::max(permutations, 0)));
  for (int done = 0; done < permutations; done += kRelabellingBatch) {
    const int n = std::min(kRelabellingBatch, permutations - done);
    for (int r = 0; r < n; ++r) {
      next_columns(columns);
      for (Eigen::Index c = 0; c < k; ++c) {
        relabelled.row(c).segment(r * n_b, n_b) = b_t.row(columns[static_cast<std::size_t>(c)]);
      }
    }
    batch.leftCols(n_b * n).noalias() = a * relabelled.leftCols(n_b * n);
    for (int r = 0; r < n; ++r) {
      scores = batch.middleCols(r * n_b, n_b).cast<double>() * scale;
      null.push_back(matched_mean(scores));
    }
  }
  return null;
}

MatchingKey::MatchingKey() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_128bits_reset(state_);
}

MatchingKey::~MatchingKey() { XXH3_freeState(state_); }

MatchingKey& MatchingKey::add(std::span<const std::uint64_t> words) {
  XXH3_128bits_update(state_, words.data(), words.size_bytes());
  return *this;
}

MatchingKey& MatchingKey::add(std::span<const float> values) {
  XXH3_128bits_update(state_, values.data(), values.size_bytes());
  return *this;
}

std::pair<std::uint64_t, std::uint64_t> MatchingKey::digest() const {
  const auto h = XXH3_128bits_digest(state_);
  return {h.high64, h.low64};
}

}  // namespace lineage::stages
