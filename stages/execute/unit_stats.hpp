#pragma once
/// @file unit_stats.hpp
/// The statistics of one comparison unit (docs/methods.md §2), as named fields, and the one
/// mapping between them and the result store's named columns (/results/stat_names,
/// /results/stats) and the journal's records. The column names and their order are the
/// statistics version: changing them changes what unit_outcome.cpp's version number says.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {

struct UnitStats {
  // Element-wise statistics over the element pairs where both sides are finite (NaN: undefined,
  // e.g. the centred cosine of a constant vector).
  std::uint64_t elements = 0;   ///< "n": element pairs with both sides finite
  std::uint64_t nonfinite = 0;  ///< "n_nonfinite": element pairs with either side NaN or infinite
  double cosine = 0;
  double pearson = 0;               ///< centred cosine
  double init_centered_cosine = 0;  ///< cosine of (a - 1) and (b - 1): norms start at 1
  double rel_l2 = 0;                ///< ||a - b|| / ||a||
  double rel_l2_sym = 0;            ///< ||a - b|| / sqrt((||a||² + ||b||²) / 2)
  double mean_abs_diff = 0;
  double max_abs_diff = 0;
  double rms_diff = 0;
  double p99_abs_diff = 0;     ///< 99th percentile of |a - b| (bucketed, METHODS §2.4)
  double tail_scale_diff = 0;  ///< |p99 |a| - p99 |b||
  double cv_diff = 0;          ///< difference of the coefficients of variation
  double frac_bit_equal = 0;   ///< share of elements with equal stored bits (same dtype only)
  double frac_value_equal = 0;
  double marginal_cosine = 0;     ///< the cosine the two sides' means alone explain
  double raw_minus_marginal = 0;  ///< cosine - marginal_cosine
  double z_cosine = 0;            ///< cosine * sqrt(n)
  double mean_a = 0, mean_b = 0;
  double std_a = 0, std_b = 0;
  double norm_a = 0, norm_b = 0;
  double min_a = 0, max_a = 0, min_b = 0, max_b = 0;
  // The permutation null of stages/null/hidden_null.hpp, on sampled rows.
  NullAxis null_axis = NullAxis::none;
  std::uint64_t null_rows = 0;  ///< rows sampled for the null
  PermutationTest hidden;       ///< h and its null (columns null_*, hidden_corr)
  PermutationTest basis;        ///< g and its null (columns basis_*; no exceed column)
  // Non-finite values per side, and where the two sides disagree about them (evidence in their
  // own right: a suspect that is its parent with NaNs written in is not identical).
  std::uint64_t nonfinite_a = 0;
  std::uint64_t nonfinite_b = 0;
  std::uint64_t nonfinite_mismatch = 0;
  // Neuron matching of MLP units (stages/align/neuron_matching.hpp): neuron_sampled is 0 where
  // the unit has no neurons to match. neuron.observed is T, the matched neurons' correlation on
  // held-out hidden dimensions, with its exact relabelling null (columns neuron_*).
  std::uint64_t neuron_sampled = 0;
  std::uint64_t neuron_in_place = 0;  ///< sampled neurons matched to the same index
  std::uint64_t neuron_sketch_dims = 0;
  double neuron_margin = 0;  ///< median best minus second-best sketch score
  PermutationTest neuron;
  // token_mapped units only (stages/align/token_mapped_embedding.hpp); left at these values
  // for every other unit. Their h and g (hidden, basis) are those of the mapped rows.
  double mapped_same_id = 0;         ///< share of the mapped tokens with the same id in both tokenizers
  double mapped_cosine = 0;          ///< mean per-token cosine of the centred mapped rows, no rotation
  std::uint64_t rotation_train = 0;  ///< tokens the Procrustes rotation was fitted on
  std::uint64_t rotation_test = 0;   ///< held-out tokens it was measured on
  double rotation_train_cosine = 0;  ///< mean per-token cosine of the fitting tokens after the fit
  PermutationTest rotation;          ///< held-out cosine after the fit, null: token pairing shuffled within norm strata
};

/// The store's column names for UnitStats, in column order (stable: /results/stat_names).
[[nodiscard]] const std::vector<std::string>& unit_stat_names();

/// The fields as one row of columns, in unit_stat_names() order.
[[nodiscard]] std::vector<double> stat_columns(const UnitStats& stats);
/// Appends stat_columns(stats) to a row-major table such as StoreContents::stats.
void append_stat_columns(std::vector<double>& table, const UnitStats& stats);
void append_stat_columns(io::SpilledVector<double>& table, const UnitStats& stats);
/// The inverse of stat_columns. Throws InternalError unless `columns` has one value per name.
[[nodiscard]] UnitStats unit_stats_from_columns(std::span<const double> columns);

/// UnitStats of the result rows of a store written by any statistics version, by column name. A
/// column the store lacks leaves its field at the default; a stored count that is negative, huge
/// or NaN reads as 0 (stores come from outside: casting such a double is undefined behaviour).
class StoredUnitStats {
 public:
  /// Keeps a reference: `store` must outlive this.
  explicit StoredUnitStats(const io::StoreContents& store);
  [[nodiscard]] bool has(std::string_view column) const;
  /// Throws StoreError naming the first of `columns` the store lacks.
  void require(std::initializer_list<std::string_view> columns) const;
  /// Every column of the permutation null of h (statistics version 2 on).
  [[nodiscard]] bool has_hidden_null() const;
  /// Every column of the basis test's null (statistics version 2 on).
  [[nodiscard]] bool has_basis_null() const;
  /// The statistics of result row `row` (row < store.done_ids.size()).
  [[nodiscard]] UnitStats row(std::size_t row) const;

 private:
  const io::StoreContents& store_;
  std::vector<std::optional<std::size_t>> column_of_field_;  ///< per unit_stat_names() entry
};

}  // namespace lineage::stages
