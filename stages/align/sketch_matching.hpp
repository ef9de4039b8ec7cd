#pragma once
/// @file sketch_matching.hpp
/// Which expert of one model is which expert of the other, from the experts' own weights
/// (issue 10, METHODS §5.2): per layer, the expert x expert similarity of their sketches
/// (stages/execute/expert_sketch.hpp; invariant under a permutation of each expert's neurons),
/// at cost O(E^2 k^2) instead of O(E^2 N), then the assignment that maximises the summed
/// similarity. Maximising inflates the matched mean even for unrelated models (§5.2.4), so it is
/// judged against the same maximisation after relabelling the other model's sketched hidden
/// dimensions consistently across all its experts and projections: under independence the
/// other model's hidden labels are exchangeable, so each relabelling is as likely as the identity.

#include <cstdint>
#include <vector>

namespace lineage::stages {

/// The sketches of one model's experts in one layer: experts 0..experts-1, each with the same
/// projections (e.g. gate, up, down) in the same order.
struct LayerSketches {
  std::size_t experts = 0;
  std::size_t projections = 0;
  std::vector<float> data;  ///< experts x projections x kSketchWidth
};

struct SketchMatching {
  std::vector<int> match;              ///< per suspect expert, the other model's expert; -1: none (added)
  std::vector<double> score;           ///< similarity of each matched pair (NaN when unmatched)
  std::vector<double> margin;          ///< matched minus the row's second best (NaN when unmatched)
  std::vector<int> unmatched_suspect;  ///< suspect experts no other expert took (added experts)
  std::vector<int> unmatched_other;    ///< the other model's experts no suspect expert took (pruned)
  double matched_mean = 0;             ///< mean similarity of the matched pairs
  double null_mean = 0, null_sd = 0;   ///< of the matched mean under relabellings
  int permutations = 0;
  double p = 1;      ///< one-sided (permutation_p)
  int in_place = 0;  ///< suspect experts matched to the same index
};

/// How much of the relabelling null a matching computes.
struct SketchNull {
  int permutations = 100;
  /// Sequential: after the first `first` relabellings (0: no early look; rounded up to whole
  /// batches of stages/align/relabelled_null.hpp's kRelabellingBatch), a z of the matched mean
  /// at or above `decisive_z` stops there, its p from those relabellings; otherwise the rest follow
  /// from the same stream, so the result is the one all `permutations` at once give.
  int first = 0;
  double decisive_z = 8;
  /// No relabelling at all when the matching moves no expert (every matched expert in place):
  /// p = 1 and permutations = 0. Only for callers that use the moves and nothing else.
  bool skip_unmoved = false;
};

/// The null for planning which experts to read at their match before the pass: such moves
/// decide what is read when, never a verdict (which judges every layer with the full null), and
/// most layers either move no expert (a fine-tune) or are decided far beyond doubt by 20
/// relabellings (a permuted model: z in the tens). Only the rest need all 100.
inline constexpr SketchNull kMovePlanningNull{.permutations = 100, .first = 20, .decisive_z = 8, .skip_unmoved = true};

/// A pure function of its arguments; the process remembers its results (one run asks for a
/// layer's matching several times), keyed by a 128-bit hash of the arguments.
/// @param[in] seed  the relabelling stream
[[nodiscard]] SketchMatching match_experts_by_sketch(const LayerSketches& suspect, const LayerSketches& other,
                                                     std::uint64_t seed, const SketchNull& null);
[[nodiscard]] inline SketchMatching match_experts_by_sketch(const LayerSketches& suspect, const LayerSketches& other,
                                                            std::uint64_t seed, int permutations = 100) {
  return match_experts_by_sketch(suspect, other, seed, SketchNull{.permutations = permutations});
}

/// P(C >= c) for C ~ Poisson(1): the agreements of two matchings of one layer made from unrelated
/// evidence (router rows, expert sketches) behave like the fixed points of a random permutation
/// under independence (METHODS §5.3).
[[nodiscard]] double agreement_p(int agreements);

}  // namespace lineage::stages
