#pragma once
/// @file byte_identity_evidence.hpp
/// What the tensor scan's byte-identical tensors (stages/align/byte_identity.hpp) say about one
/// pair, and how they bear on its verdict.
///
/// A non-trivial tensor (>= 4096 elements, >= 64 distinct values) byte-identical in two models
/// cannot arise by chance: trained values agree only where they were copied. So:
/// - under another name, at another layer of the same role: a layer moved or repeated; it
///   supports depth_upscaled / depth_pruned (and "layers moved" at equal depth, as permuted);
/// - at another expert index of the same layer and projection: experts reordered (permuted), or
///   renumbered after pruning when the pair is expert_pruned (then they support that kind);
/// - a pair whose weights were otherwise independent or inconclusive, with identical tensors of a
///   known weight role, is partial_reuse: some tensors were copied whole. Tensors of role
///   `other` (buffers, tables a family file does not name) never decide this: a fixed table
///   (e.g. a sinusoidal position table) is equal in independent models.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>
#include <vector>

#include "stages/align/byte_identity.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

struct ByteIdentityEvidence {
  bool scanned = false;  ///< the store has a tensor scan for this pair
  std::size_t candidates = 0;
  std::vector<IdenticalTensorPair> identical;
  std::size_t renamed = 0;  ///< identical pairs whose names differ
  /// (suspect layer, other layer) -> tensors, layers differ; only suspect tensors not also equal
  /// to the other's tensor of their own name (those stayed in place).
  std::map<std::pair<int, int>, std::size_t> moved;
  std::size_t experts_moved = 0;  ///< same layer and projection, other expert index
  /// (layer, suspect expert, other expert) -> tensors, for the moved experts.
  std::map<std::tuple<int, int, int>, std::size_t> expert_moves;
  std::size_t known_roles = 0;  ///< identical pairs with a known weight role on both sides
  ScanCost cost;
  /// What identity's p-value can be: the chance that a hash collision, not equal bytes, made a
  /// tier-2 match, candidates x 2^-64 (equal trained values by chance are far rarer still).
  [[nodiscard]] double p_value() const noexcept;
  [[nodiscard]] nlohmann::json to_json() const;
};

[[nodiscard]] ByteIdentityEvidence byte_identity_of(const TensorScan& scan, int suspect, int other);

/// Adds what the identical tensors explain to the verdict (kinds and, for an otherwise
/// independent or inconclusive pair, partial_reuse); see the file comment.
void apply_byte_identity(const ByteIdentityEvidence& e, PairVerdict& v);

}  // namespace lineage::stages
