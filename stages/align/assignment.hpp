#pragma once
/// @file assignment.hpp
/// The linear assignment problem: match every row of a score matrix to a distinct column so that
/// the total score is largest (METHODS §5.2). Square problems by Jonker-Volgenant, rectangular
/// ones by the Hungarian algorithm's shortest augmenting paths (O(n^2 m)); both exact, so they
/// differ at most in which of several equally good matchings they return.

#include <cstddef>
#include <span>
#include <vector>

namespace lineage::stages {

/// @param[in] score  rows x cols, row-major, rows <= cols
/// @return for each row the column it is matched to
[[nodiscard]] std::vector<std::size_t> max_assignment(std::span<const double> score, std::size_t rows,
                                                      std::size_t cols);

}  // namespace lineage::stages
