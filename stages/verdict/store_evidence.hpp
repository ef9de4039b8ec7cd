#pragma once
/// @file store_evidence.hpp
/// What the verdict reads from a result store, as typed values: the per-unit evidence of every
/// model pair, the keys one model lacks, the pair's layout, the expert matchings of its routers
/// and the distances between all its models. The CLI only formats these (pipeline/verdict_report).

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/align/expert_matching.hpp"
#include "stages/verdict/lineage_tree.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// (suspect, other) -> the cross-model units' evidence. Every ordered pair of distinct models
/// with cross-model units: one per compare run, every pair of a merged store.
using PairEvidence = std::map<std::pair<int, int>, EvidenceList>;

/// StoreError on a result for a unit the store does not list, or a statistic it lacks. The
/// evidence views the store's joint-test relabellings (UnitEvidence::joint_null): use it while
/// `store` lives and its joint_null is not changed (a put may move every row).
[[nodiscard]] PairEvidence evidence_by_pair(const io::StoreContents& store);
PairEvidence evidence_by_pair(io::StoreContents&& store) = delete;

/// Tensors of either model of the pair without a counterpart in the other.
[[nodiscard]] std::size_t unmatched_between(const io::StoreContents& store, int suspect, int other);

/// Layers and routed experts per layer of the two models, from every key the store names.
[[nodiscard]] PairLayout layout_of(const io::StoreContents& store, int suspect, int other);

struct LayerMatching {
  int layer = -1;
  ExpertMatching matching;
};

/// Expert matching by router rows, per layer where both routers were kept whole.
[[nodiscard]] std::vector<LayerMatching> router_matchings(const io::StoreContents& store, int suspect, int other);

struct DistanceMatrix {
  std::vector<std::string> models;            ///< folder names (suffixed #i when two are equal)
  std::vector<std::vector<double>> distance;  ///< NaN where the pair was never compared
  std::vector<std::string> missing_pairs;
  [[nodiscard]] bool complete() const noexcept { return missing_pairs.empty(); }
};

/// 1 − median same-key Pearson per pair (both directions averaged), over every model of the store.
[[nodiscard]] DistanceMatrix distance_matrix(const io::StoreContents& store, const PairEvidence& by_pair);

/// The neighbour-joining tree over the matrix's models, when there is one to draw: at least three
/// models and every pair compared (a missing distance would have to be invented).
[[nodiscard]] std::optional<LineageTree> lineage_tree(const DistanceMatrix& matrix);

}  // namespace lineage::stages
