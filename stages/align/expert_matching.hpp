#pragma once
/// @file expert_matching.hpp
/// Which expert of one model is which expert of the other (METHODS §5.2): the router rows of a
/// layer (one row per expert) are matched by the assignment that maximises their summed
/// correlation. A function-preserving reordering moves router rows with their experts, so the
/// matching recovers it. Maximising inflates the matched similarity even for unrelated models
/// (§5.2.4), so the matched mean is judged against the same maximisation under relabellings of
/// the other model's hidden axis.

#include <cstdint>
#include <span>
#include <vector>

namespace lineage::stages {

struct ExpertMatching {
  std::vector<int> match;      ///< per suspect expert, the other model's expert
  std::vector<double> score;   ///< correlation of each matched pair
  std::vector<double> margin;  ///< matched minus the row's second best
  double matched_mean = 0;
  double null_mean = 0, null_sd = 0;  ///< of the matched mean under hidden relabellings
  int permutations = 0;
  double p = 1;             ///< one-sided (permutation_p)
  int in_place = 0;         ///< experts matched to the same index
  int unmatched_other = 0;  ///< the other model's experts no suspect expert took (pruned)
};

/// A pure function of its arguments; the process remembers its results (the verdict asks for a
/// layer's matching several times), keyed by a 128-bit hash of the arguments.
/// @param[in] suspect  rows_s x cols router rows (row-major); other: rows_o x cols; rows_s <= rows_o
/// @param[in] seed     the relabelling stream
[[nodiscard]] ExpertMatching match_experts(std::span<const float> suspect, std::uint64_t rows_s,
                                           std::span<const float> other, std::uint64_t rows_o, std::uint64_t cols,
                                           std::uint64_t seed, int permutations = 50);

}  // namespace lineage::stages
