#pragma once
/// @file neuron_evidence.hpp
/// Neuron permutations per MLP, from the neuron matchings the unit pass stored for its gate, up
/// and down units (stages/align/neuron_matching.hpp). A function-preserving permutation moves an
/// MLP's gate rows, up rows and down columns together, so the three matchings of one MLP must
/// agree on the same sampled neurons; for unrelated neurons (independent models, or another
/// expert or layer of a related one) they do not, even where the held-out statistic shows a
/// shared hidden basis.

#include <cstdint>
#include <string>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/verdict/store_evidence.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// One projection's matching.
struct ProjectionMatching {
  std::string projection;     ///< gate, up, down or gate_up
  std::uint64_t neurons = 0;  ///< the MLP's neurons
  std::uint64_t sampled = 0;
  std::uint64_t in_place = 0;
  double matched_corr = 0;  ///< T on held-out hidden dimensions
  double null_sd = 0;
  double p = 1;
  double margin = 0;
  std::vector<std::uint64_t> suspect_neurons;
  std::vector<std::uint64_t> other_neurons;
};

/// Which units a neuron matching reads.
enum class NeuronPairing : std::uint8_t {
  same_role,       ///< same-key units, or a moved expert's matched_expert units
  expert_to_dense  ///< cross_role units: the suspect's routed expert against the other's dense MLP (upcycling)
};

/// The MLPs of one pair whose units were matched.
struct MlpNeuronMatching {
  std::string role;  ///< dense_mlp, shared_expert or routed_expert (the suspect's)
  int layer = -1;
  int expert = -1;
  std::vector<ProjectionMatching> projections;
  double p = 1;               ///< largest p over the projections (every one must match)
  double matched_corr = 0;    ///< smallest T over the projections
  double in_place_share = 0;  ///< largest share of sampled neurons matched in place
  std::uint64_t sampled = 0;  ///< neurons sampled (shared by the projections compared)
  std::uint64_t agree = 0;    ///< sampled neurons every projection matches to the same neuron
  /// Largest over pairs of projections of the binomial tail of their agreements, at the chance
  /// rate that pair's matchings show between different sampled neurons (at least 1 / neurons);
  /// 1 with fewer than two projections.
  double agreement_p = 1;
  /// Where every projection agrees, the other model's neuron for each sampled neuron (-1 where
  /// they do not): the recovered permutation on the sample.
  std::vector<std::int64_t> recovered;
  bool matched = false;   ///< every projection p and agreement_p <= the threshold, at least half agree
  bool permuted = false;  ///< matched, and at most half of the sampled neurons in place
};

/// The MLPs of (suspect, other) with a neuron matching in the store, ordered by role, layer and
/// expert: by default against the same MLP of the other model (same-key units, or where a moved
/// expert, its matched_expert units); with `expert_to_dense`, each routed expert against the
/// other's dense MLP of its layer. `threshold` is the p-value that counts as matched (the
/// rubric's 1e-6).
[[nodiscard]] std::vector<MlpNeuronMatching> neuron_matchings(const io::StoreContents& store, int suspect, int other,
                                                              double threshold = 1e-6,
                                                              NeuronPairing pairing = NeuronPairing::same_role);

/// The `permuted` kind's evidence: MLPs whose neurons are permuted (matched, gate/up/down
/// agreeing) and layers whose experts the router rows show reordered (every expert matched,
/// p <= threshold, not all in place). Appended to an existing `permuted` kind; a derived pair
/// without one gains it when some MLP's neurons are permuted. Never changes the class.
void add_permutation_evidence(PairVerdict& v, const std::vector<MlpNeuronMatching>& neurons,
                              const std::vector<LayerMatching>& experts, double threshold = 1e-6);

/// The `upcycled` kind's evidence from `expert_to_dense` matchings: experts whose neurons match
/// the other model's dense MLP of their layer (gate, up and down agreeing), and how many of them
/// have their neurons shuffled. Appended to an existing `upcycled` kind (its p unchanged); a
/// derived pair without one gains it when some expert matches. Never changes the class.
void add_upcycling_evidence(PairVerdict& v, const std::vector<MlpNeuronMatching>& expert_to_dense);

/// P(X >= c) for X ~ Binomial(n, q).
[[nodiscard]] double binomial_upper_tail(std::uint64_t c, std::uint64_t n, double q);

}  // namespace lineage::stages
