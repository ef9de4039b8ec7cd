#pragma once
/// @file relabelled_null.hpp
/// What the expert matchings (router rows, expert sketches) share: the null of a maximised
/// matched mean, and a memo of their results.
///
/// Maximising a matching inflates the matched mean even between unrelated models (METHODS
/// §5.2.4), so the observed mean is judged against the same maximisation after relabelling the
/// other model's hidden axis. Each relabelling is one product of the suspect's rows with a
/// column-relabelled copy of the other's, then one assignment. The products run ten relabellings
/// at a time (one small product each costs more in packing than in arithmetic) and in float: the
/// null only places the observed mean, which stays in double, and float's 1e-7 is far below the
/// gap a decision turns on.

#include <xxhash.h>

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace lineage::stages {

using ScoreMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Relabellings per product: a null split into calls of whole batches sums every product alike, so
/// its values are the same bits as one call's.
inline constexpr int kRelabellingBatch = 10;

/// The matched means of `permutations` relabellings, in order.
/// @param[in] suspect       rows x k
/// @param[in] other         other rows x k
/// @param[in] next_columns  fills column c of one relabelling with the original column it reads;
///                          called once per relabelling, in order (the caller's random stream)
/// @param[in] scale         multiplies every score
/// @param[in] matched_mean  the maximised matched mean of one rows x other-rows score matrix
[[nodiscard]] std::vector<double> relabelled_null(const ScoreMatrix& suspect, const ScoreMatrix& other,
                                                  int permutations,
                                                  const std::function<void(std::vector<Eigen::Index>&)>& next_columns,
                                                  double scale,
                                                  const std::function<double(const ScoreMatrix&)>& matched_mean);

/// A 128-bit XXH3 of everything a matching depends on.
class MatchingKey {
 public:
  MatchingKey();
  ~MatchingKey();
  MatchingKey(const MatchingKey&) = delete;
  MatchingKey& operator=(const MatchingKey&) = delete;
  MatchingKey& add(std::span<const std::uint64_t> words);
  MatchingKey& add(std::span<const float> values);
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> digest() const;

 private:
  XXH3_state_t* state_;
};

/// Results of a pure function, remembered per process by their MatchingKey: one run asks for a
/// layer's matching several times (the second phase's moves, the verdict's kinds, the evidence
/// beside the routers, `verdict --json`'s listing), and each costs tens of milliseconds.
template <class Result>
class MatchingMemo {
 public:
  /// The remembered result for key, or compute()'s (computed outside the lock).
  Result get(std::pair<std::uint64_t, std::uint64_t> key, const std::function<Result()>& compute) {
    {
      const std::lock_guard lock(mutex_);
      if (const auto it = results_.find(key); it != results_.end()) return it->second;
    }
    Result out = compute();
    const std::lock_guard lock(mutex_);
    if (results_.size() >= kLimit) results_.clear();
    results_.emplace(key, out);
    return out;
  }

 private:
  static constexpr std::size_t kLimit = 4096;  // layers x pairs of one store; a few MB at most
  std::mutex mutex_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Result> results_;
};

}  // namespace lineage::stages
