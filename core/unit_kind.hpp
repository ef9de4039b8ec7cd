#pragma once
/// @file unit_kind.hpp
/// What a comparison unit compares (stages/pair/comparison_unit.hpp): the pair stage makes units
/// of these kinds, the result store records them, and the verdict reads them back. In core/,
/// beside TensorKey, so io/store can read and write it typed.

#include <cstdint>
#include <optional>
#include <string_view>

namespace lineage {

enum class UnitKind : std::uint8_t {
  same_key,   ///< the same canonical key in both models, identical shapes
  submatrix,  ///< the same key, shapes differ: the common leading rows x cols are compared
  baseline,   ///< a null pair across models: same role, different layers (suspect x other)
  within,     ///< a within-model pair: same role, different layers of one model (METHODS §4.1)
  /// The suspect's routed expert against the other model's dense MLP of the same layer and
  /// projection, same shape: the copy a sparse upcycling starts from (METHODS §5.6).
  cross_role,
  /// A routed expert with no same-key counterpart in the other model (pruned or added experts),
  /// against itself: read only for its sketch (stages/execute/expert_sketch.hpp), so the expert
  /// matching sees every expert of both models. Both views are the one model's; no evidence,
  /// no statistics (the pass reads none of its elements: sampled with 0 rows).
  expert_sketch,
  /// A matrix of a layer's attention, router, shared expert or dense MLP with no same-key
  /// counterpart in the other model (a layer one model lacks: depth up-scaling or pruning),
  /// against itself: read only for its sketch, so the layer x layer sketch matrices
  /// (stages/verdict/layer_sketch_evidence.hpp) see every layer of both models. Like
  /// expert_sketch: both views are the one model's, no evidence, no statistics.
  layer_sketch,
  /// Embedding or lm_head rows of tokens both tokenizers hold, paired through the token map
  /// (stages/pair/token_mapped_units.hpp): row rows_a[i] of the suspect against row rows_b[i].
  token_mapped,
  /// A routed expert of the suspect against the other model's expert that the sketch matching
  /// (stages/align/sketch_matching.hpp) pairs it with, where that is another index: planned after
  /// the pass by stages/plan/matched_experts.hpp and computed like a same-key unit; the verdict
  /// reads it in place of the same-key unit of the moved expert.
  matched_expert,
};

/// The kind's name as the result store writes it ("same_key", "baseline", ...).
[[nodiscard]] std::string_view to_string(UnitKind k) noexcept;
/// Parses to_string(UnitKind); nullopt for anything else.
[[nodiscard]] std::optional<UnitKind> parse_unit_kind(std::string_view s) noexcept;

}  // namespace lineage
