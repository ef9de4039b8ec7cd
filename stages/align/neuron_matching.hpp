#pragma once
/// @file neuron_matching.hpp
/// Which hidden neuron of one MLP is which neuron of the other (METHODS §5.4): a permutation of
/// an MLP's neurons (gate/up rows and down columns together) leaves its function unchanged and
/// defeats every same-index statistic, so the suspect's neurons are matched to the other's
/// explicitly.
///
/// Method, on a hash-chosen sample of the suspect's neurons (the same neurons for gate, up and
/// down of one MLP, so their matchings can be compared):
/// 1. Sketch: every neuron's values at k hash-chosen hidden dimensions S1 (each centred and
///    scaled; the dimensions come in hash-chosen blocks of consecutive ones, cheap to read). Score matrix: sampled
///    suspect neurons x all the other's neurons (one GEMM).
/// 2. Assignment: the one-to-one matching maximising the summed score (Hungarian) over the
///    union of each sampled neuron's best candidates.
/// 3. Matched statistic on the held-out dimensions S2 (up to 1024 hidden dimensions not in S1): T =
///    mean over sampled neurons of corr_S2(suspect neuron, its match). Maximising inflates the
///    matched score for unrelated models; T does not see that maximisation, because the matching
///    used S1 only.
/// 4. Null: T under relabellings of the other model's hidden axis. Under independence the other
///    model's hidden labels are exchangeable (stages/null/hidden_null.hpp); given what S1 showed
///    the matching, the labels of S2 are still a uniform relabelling, so T's null is the
///    relabelling distribution of a linear assignment statistic, whose exact mean (0) and
///    variance (<X Xᵀ, Y Yᵀ> / (m² (n₂ − 1)) for m neurons' standardised held-out rows X, Y) give
///    p by the normal tail (Hoeffding's combinatorial central limit theorem), as for h. It is the
///    conditional form of "the same maximisation under relabellings": exact, and free of
///    simulation.
///
/// Cost per unit, for I neurons, m sampled neurons, k sketch, s screening and h held-out
/// dimensions: reading I·s + 8·m·k + m·(k + 2h) values, one m×s by s×I product, and m²·h for
/// the null; at I = 18432, d = 7168, m = 64, k = 96, s = 32, h = 1024: 0.6% of the values the
/// pass reads and 0.05 G multiply-adds (docs/benchmarks.md measures the time).

#include <cstdint>
#include <span>
#include <vector>

#include "stages/null/hidden_null.hpp"

namespace lineage::stages {

struct NeuronMatchOptions {
  std::uint64_t sampled_neurons = 64;  ///< suspect neurons matched (all when fewer)
  std::uint64_t sketch_dims = 96;      ///< hidden dimensions of the sketch S1 (at most half of them)
  std::uint64_t heldout_dims = 1024;   ///< at most this many held-out dimensions S2
  /// S1 and S2 are hash-chosen blocks of this many consecutive hidden dimensions: where a
  /// neuron is a row, a block is one or two cache lines rather than one per dimension.
  std::uint64_t block = 16;
  std::uint64_t screen_dims = 32;          ///< the first dimensions of S1 screen all neurons for candidates
  std::uint64_t screen_below = 512;        ///< MLPs with at most this many neurons are not screened
  std::uint64_t candidates = 8;            ///< best screened candidates per sampled neuron
  std::uint64_t seed = 0x6e6575726f6eULL;  ///< "neuron": the same for every model, layer and projection
};

/// Where one model's neurons come from (a matrix in memory, or a unit's stored bytes read in the
/// order its layout makes cheap).
class NeuronSource {
 public:
  virtual ~NeuronSource() = default;
  /// Every neuron at `dims`: out is neurons x dims.size(), row-major.
  virtual void all_at(std::span<const std::uint64_t> dims, float* out) const = 0;
  /// The listed neurons at `dims`: out is neurons.size() x dims.size(), row-major.
  virtual void some_at(std::span<const std::uint64_t> neurons, std::span<const std::uint64_t> dims,
                       float* out) const = 0;
};

struct NeuronMatching {
  std::vector<std::uint64_t> sampled;  ///< the suspect's sampled neurons, ascending
  std::vector<std::uint64_t> match;    ///< per sampled neuron, the other model's neuron
  std::uint64_t sketch_dims = 0;       ///< |S1|
  std::uint64_t heldout_dims = 0;      ///< |S2|
  std::uint64_t in_place = 0;          ///< sampled neurons matched to the same index
  double margin = 0;  ///< median over sampled neurons of best minus second-best sketch score (among candidates)
  /// T on S2 and its null (exact moments: permutations 0); units = neurons that took part (both
  /// sides vary on S2). observed is NaN when the unit is too small to match.
  PermutationTest matched;
  [[nodiscard]] bool defined() const noexcept;
};

/// The suspect neurons matched when an MLP has `neurons` neurons (depends on the count and the
/// seed only, so gate, up and down of one MLP, and both models, agree). Ascending.
[[nodiscard]] std::vector<std::uint64_t> sampled_neurons(std::uint64_t neurons, const NeuronMatchOptions& options = {});

/// The sketch's hidden dimensions S1 and the held-out ones S2 for `hidden` dimensions (disjoint,
/// each ascending).
struct HiddenSplit {
  std::vector<std::uint64_t> sketch, heldout;
};
[[nodiscard]] HiddenSplit split_hidden(std::uint64_t hidden, const NeuronMatchOptions& options = {});

/// Matches the suspect's sampled neurons to the other's. Needs at least 4 neurons and 16 hidden
/// dimensions (else the result is not defined()).
[[nodiscard]] NeuronMatching match_neurons(std::uint64_t neurons, std::uint64_t hidden, const NeuronSource& suspect,
                                           const NeuronSource& other, const NeuronMatchOptions& options = {});

/// The same on whole matrices: neurons x hidden, row-major.
[[nodiscard]] NeuronMatching match_neurons(std::span<const float> suspect, std::span<const float> other,
                                           std::uint64_t neurons, std::uint64_t hidden,
                                           const NeuronMatchOptions& options = {});

}  // namespace lineage::stages
