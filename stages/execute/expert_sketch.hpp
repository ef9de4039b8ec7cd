#pragma once
/// @file expert_sketch.hpp
/// A per-expert sketch that a permutation of the expert's neurons cannot change and that tells
/// experts apart (METHODS §5.5, issue 10): the covariance, over the neuron axis, of a fixed
/// hash-chosen set of kSketchDims hidden dimensions, upper triangle with the diagonal. The same
/// hidden dimensions for every expert, layer, projection and model (they depend only on the
/// hidden size), so sketches of two models can be compared entry by entry, and a relabelling of
/// the hidden axis (the null) acts on them as a permutation of rows and columns together.
///
/// Size: kSketchDims = 16 gives 136 float32 per side and unit, 1,088 bytes per unit; a
/// 128-expert x 48-layer x 3-projection pair holds 18,432 such units, about 20 MB in the store.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

inline constexpr std::size_t kSketchDims = 16;
/// Entries of one sketch: the upper triangle of a kSketchDims x kSketchDims matrix with its diagonal.
inline constexpr std::size_t kSketchWidth = kSketchDims * (kSketchDims + 1) / 2;
inline constexpr std::uint64_t kSketchSeed = 0x736b65746368ULL;  ///< "sketch"

/// Whether the pass sketches a unit of this key and kind (the planner sets ComparisonUnit::sketch
/// from it): the weight matrices (gate, up, down) of routed experts in same-key, expert_sketch and
/// matched_expert units (a moved expert's same-key unit may never be computed, so its match
/// carries both sides' sketches); the layer matrices of layer_sketched() in same-key units and in
/// layer_sketch units.
[[nodiscard]] bool sketched(const TensorKey& key, UnitKind kind) noexcept;

/// The per-layer matrices the layer x layer sketch matrices are made of (issue 10, METHODS §5.8):
/// text-stack weights of attention (q, k, v, o, fused qkv, MLA's q_a, q_b, kv_a, kv_b), the
/// router, the shared expert and the dense MLP. The same sketch as an expert's: a covariance over
/// the rows a neuron or head permutation reorders, of hash-chosen columns of the hidden axis (of
/// the input axis where neither is hidden, as MLA's kv_b).
[[nodiscard]] bool layer_sketched(const TensorKey& key) noexcept;

/// The hidden dimensions a sketch reads: kSketchDims of [0, hidden), chosen by hash, ascending
/// (every dimension when hidden <= kSketchDims, which gives no sketch).
[[nodiscard]] std::vector<std::uint64_t> sketch_dims(std::uint64_t hidden);

/// The sketch of one side from its chosen hidden dimensions' vectors over the neurons.
/// @param[in] dims_major  kSketchDims x neurons, row-major (row i: hidden dimension i over all neurons)
/// @return kSketchWidth covariances (upper triangle by rows, diagonal included); non-finite values count as 0
[[nodiscard]] std::vector<float> expert_sketch(std::span<const float> dims_major, std::uint64_t neurons);

/// Index of entry (i, j) of the upper triangle (i <= j) in a sketch.
[[nodiscard]] constexpr std::size_t sketch_index(std::size_t i, std::size_t j) noexcept {
  return i * kSketchDims - i * (i - 1) / 2 + (j - i);
}

}  // namespace lineage::stages
