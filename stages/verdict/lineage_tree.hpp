#pragma once
/// @file lineage_tree.hpp
/// A lineage tree over models from their pairwise weight distances: neighbour-joining (Saitou &
/// Nei 1987), written as Newick with branch lengths, and drawn as text. Distances: 1 − median
/// Pearson of the same-key units of a pair (0 for identical weights, ≈ 1 for unrelated ones).

#include <optional>
#include <string>
#include <vector>

namespace lineage::stages {

struct TreeNode {
  std::string name;             ///< leaves only
  std::vector<int> children;    ///< indices into LineageTree::nodes
  std::vector<double> lengths;  ///< branch length to each child
};

struct LineageTree {
  std::vector<TreeNode> nodes;
  int root = -1;
  [[nodiscard]] std::string newick() const;
  /// One line per node, indented by depth, with branch lengths.
  [[nodiscard]] std::string drawing() const;
  /// A rectangular phylogram as SVG: x is the distance from the centre, leaves evenly spaced.
  [[nodiscard]] std::string svg(const std::string& title) const;
};

/// @param[in] names     one per model
/// @param[in] distance  symmetric, zero diagonal, no missing entries; at least 2 models
[[nodiscard]] LineageTree neighbour_joining(const std::vector<std::string>& names,
                                            const std::vector<std::vector<double>>& distance);

}  // namespace lineage::stages
