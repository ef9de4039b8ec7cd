#pragma once
/// @file store_merge.hpp
/// Combines result stores from different runs or clusters into one: models are identified by
/// their fingerprints (a model stored under two paths is one model; one path with two
/// fingerprints is refused), identical units (same model fingerprints, same tensors and
/// sub-matrix, same statistic version) are deduplicated and must agree within a tolerance —
/// a disagreement is a conflict, never averaged.

#include <string>
#include <vector>

#include "io/store/result_store.hpp"

namespace lineage::jobs {

struct MergeOptions {
  /// Two values agree when |a - b| <= abs_tolerance + rel_tolerance * max(|a|, |b|) (NaN agrees
  /// with NaN). Byte hashes must be equal where both stores hashed the unit the same way: a unit
  /// split into row blocks is hashed by its block hashes, so stores run with different
  /// LINEAGE_ROW_BLOCK_BYTES compare only the statistics of the units either of them split.
  double rel_tolerance = 1e-9;
  double abs_tolerance = 1e-12;
};

struct MergeResult {
  io::StoreContents store;  ///< summaries_json / verdict_json left empty (the caller computes them)
  std::size_t inputs = 0;
  std::size_t duplicate_units = 0;     ///< units found in more than one store (deduplicated)
  std::vector<std::string> conflicts;  ///< "unit KEY (A vs B): stat pearson 0.91 in a.h5, 0.93 in b.h5"
};

/// @param[in] stores  (file name, contents); throws StoreError for stores that cannot be merged
///                    (different statistic versions, one path with two fingerprints)
[[nodiscard]] MergeResult merge_stores(const std::vector<std::pair<std::string, io::StoreContents>>& stores,
                                       const MergeOptions& options = {});

}  // namespace lineage::jobs
