#pragma once
/// @file token_mapped_verdict.hpp
/// How the verdict uses embedding rows compared through the token map (token_mapped units,
/// stages/pair/token_mapped_units.hpp). docs/methods.md ("Embeddings through tokens") gives the
/// reason for each rule and number.
///
/// - Where the map shows that ids differ (some sampled token has another id in the other
///   tokenizer: extended with insertions, shifted or swapped), row i against row i compares
///   unrelated tokens; the token-mapped unit then stands for the id-paired embedding units of
///   its role and is judged by the same rubric (h with the hidden relabelling null). Where every
///   sampled token keeps its id, the id-paired units stay (they cover every row).
/// - The rotation test may turn the embeddings component derived only when, for every
///   token-mapped unit with a fit, the held-out cosine after the fit is significant against the
///   shuffled-pairing null (Holm over those units, p <= 1e-6), stands >= 10 null SDs above it,
///   and its excess over the null, as a share of what the null leaves ((cos - null) / (1 -
///   null)), reaches kMinRotationExcess, a size no independent pair reaches. Never otherwise: a
///   rotation aligns independent models' embeddings too, far beyond the null.

#include <vector>

#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// Held-out per-token cosine after the Procrustes fit (centred, unit rows), as the share of the
/// room above the shuffled-pairing null that it takes: (cos - null mean) / (1 - null mean).
/// The share, not the cosine: lm_head rows carry so much frequency structure that the null
/// alone reaches 0.75 between two independent models trained on one corpus (and their fit
/// 0.78). Measured on shared/data/trained (docs/methods.md): independent pairs 0.01-0.09 on
/// embeddings and up to 0.23 on lm_head; derived pairs (a rotation does not change these
/// numbers) 0.92-1.0 on embeddings and 0.72-0.99 on lm_head.
constexpr double kMinRotationExcess = 0.5;

/// (cos - null) / (1 - null) of one token_mapped unit: the share of the room above the null
/// that the held-out fit takes (0 when the null leaves no room); the rotation test's effect.
[[nodiscard]] double rotation_excess(const UnitEvidence& u);

struct RoutedUnits {
  EvidenceList judged;      ///< what the rubric judges (see above)
  EvidenceList mapped;      ///< every token_mapped unit, as stored
  bool ids_differ = false;  ///< some token_mapped unit pairs tokens with different ids
};

[[nodiscard]] RoutedUnits route_token_mapped(EvidenceList units);

/// Turns a not-derived embeddings component derived (kind "rotated") when the rotation test
/// passes on every token-mapped unit with a fit; otherwise leaves it, adding the rotation's
/// numbers to its reason.
void apply_rotation_evidence(ComponentVerdict& embeddings, const EvidenceList& mapped, const VerdictRules& rules);

/// The kinds the token map supports for a pair whose components are judged: vocab_extended
/// (embedding rows reused through a map whose ids differ) and rotated (reused after a
/// rotation of the hidden basis), each with its evidence and p-value.
[[nodiscard]] std::vector<DerivationKind> token_map_kinds(const EvidenceList& mapped, const PairVerdict& verdict);

}  // namespace lineage::stages
