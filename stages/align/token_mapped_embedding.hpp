#pragma once
/// @file token_mapped_embedding.hpp
/// Embedding (or lm_head) rows of the tokens two tokenizers share, compared through the token
/// map (METHODS §7.3): as they are, and after an orthogonal Procrustes fit of one model's hidden
/// basis onto the other's.
///
/// Why the rotation needs its own calibration: independently trained models' embeddings are
/// partly alignable by a rotation (cross-lingual embedding mapping works for that reason), so a
/// good fit on its own accuses nobody. Three guards (docs/methods.md, "Embeddings through
/// tokens", gives the reason for each):
/// - the fit is made on one half of the sampled tokens and measured on the other (a d x d
///   rotation fitted to n tokens matches them better than chance whatever they are);
/// - rows are centred (the column means of the fitting half) and scaled to unit length before
///   fitting: a shared mean direction and token-frequency norms are what independent models
///   trained on similar text share, and they would otherwise carry the fit;
/// - the held-out cosine is judged against the same fit after shuffling the token pairing
///   within strata of similar row norm (frequency), which keeps norms and the fit's freedom and
///   breaks only which token is which. Independent models still beat this null (token meanings
///   are alike), so the verdict also requires an effect size independent pairs do not reach
///   (stages/verdict/token_mapped_verdict.hpp).

#include <cstdint>
#include <span>

#include "stages/null/hidden_null.hpp"

namespace lineage::stages {

struct MappedEmbeddingOptions {
  /// Shuffles of the token pairing for the rotation's null. 50, not the 100 of the hidden null:
  /// each costs a fit (n·d² multiply-adds), and the decision rests on the effect size, which
  /// independent pairs miss by far more than the null's noise (p beyond 1/51 comes from the
  /// fitted tail, as for every permutation test here).
  int permutations = 50;
  std::uint64_t stratum = 16;  ///< tokens per stratum of similar row norm within which pairings are shuffled
  /// The fit needs this many fitting tokens per hidden dimension: with fewer than d, the
  /// rotation is not determined by them (any rotation of the directions they do not span fits
  /// as well), and up to about 2d it is noisy, which costs power (a derived pair's held-out
  /// cosine drops), never safety (the null refits with the same freedom). 2 keeps the fits
  /// over-determined, and leaves small tables (a few hundred shared tokens at hidden 256, the
  /// generator's default) without the fit's cost of a second per table.
  double min_train_per_dim = 2.0;
  /// No fit above this hidden size: 4,096 tokens x 1024² x 51 fits is about 2e11 multiply-adds,
  /// a minute of one rank; beyond it the cost grows with d² (reported NaN: no evidence).
  std::uint64_t max_hidden = 1024;
};

/// The rotation test of one pair of mapped tables.
struct RotationFit {
  std::uint64_t train = 0;  ///< tokens the rotation was fitted on
  std::uint64_t test = 0;   ///< held-out tokens it was measured on
  double train_cosine = 0;  ///< mean per-token cosine of the fitting half after the fit (NaN: not fitted)
  /// observed: mean per-token cosine of the held-out half after the fit (NaN: not fitted);
  /// null: the same after shuffling the token pairing within norm strata.
  PermutationTest heldout;
};

struct MappedRows {
  std::uint64_t tokens = 0;
  double same_id_share = 0;  ///< share of the mapped tokens whose ids agree in both tokenizers
  double raw_cosine = 0;     ///< mean per-token cosine of the centred rows, no rotation
  RotationFit rotation;
};

/// @param[in] a, b        the mapped rows, row-major [tokens, hidden]: row i of both is token i
/// @param[in] ids_a, ids_b  token i's id in each tokenizer (the fitting/held-out split is a hash
///                        of the pair, so it does not depend on the order of the sample)
/// @param[in] seed        the shuffle stream and the split
[[nodiscard]] MappedRows compare_mapped_rows(std::span<const float> a, std::span<const float> b, std::uint64_t tokens,
                                             std::uint64_t hidden, std::span<const std::uint64_t> ids_a,
                                             std::span<const std::uint64_t> ids_b, std::uint64_t seed,
                                             const MappedEmbeddingOptions& options = {});

}  // namespace lineage::stages
