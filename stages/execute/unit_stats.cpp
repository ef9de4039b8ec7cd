#include "stages/execute/unit_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

/// The one list of columns: calls visit(name, field) for every field, in column order. Used both
/// ways (const and mutable), so names, order and fields cannot drift apart.
template <typename Stats, typename Visit>
void visit_columns(Stats& s, Visit&& visit) {
  visit("n", s.elements);
  visit("n_nonfinite", s.nonfinite);
  visit("cosine", s.cosine);
  visit("pearson", s.pearson);
  visit("init_centered_cosine", s.init_centered_cosine);
  visit("rel_l2", s.rel_l2);
  visit("rel_l2_sym", s.rel_l2_sym);
  visit("mean_abs_diff", s.mean_abs_diff);
  visit("max_abs_diff", s.max_abs_diff);
  visit("rms_diff", s.rms_diff);
  visit("p99_abs_diff", s.p99_abs_diff);
  visit("tail_scale_diff", s.tail_scale_diff);
  visit("cv_diff", s.cv_diff);
  visit("frac_bit_equal", s.frac_bit_equal);
  visit("frac_value_equal", s.frac_value_equal);
  visit("marginal_cosine", s.marginal_cosine);
  visit("raw_minus_marginal", s.raw_minus_marginal);
  visit("z_cosine", s.z_cosine);
  visit("mean_a", s.mean_a);
  visit("mean_b", s.mean_b);
  visit("std_a", s.std_a);
  visit("std_b", s.std_b);
  visit("norm_a", s.norm_a);
  visit("norm_b", s.norm_b);
  visit("min_a", s.min_a);
  visit("max_a", s.max_a);
  visit("min_b", s.min_b);
  visit("max_b", s.max_b);
  visit("null_axis", s.null_axis);
  visit("null_rows", s.null_rows);
  visit("null_units", s.hidden.units);
  visit("hidden_corr", s.hidden.observed);
  visit("null_mean", s.hidden.null_mean);
  visit("null_sd", s.hidden.null_sd);
  visit("null_perms", s.hidden.permutations);
  visit("null_exceed", s.hidden.exceed);
  visit("null_p", s.hidden.p);
  visit("basis_units", s.basis.units);
  visit("basis_corr", s.basis.observed);
  visit("basis_null_mean", s.basis.null_mean);
  visit("basis_null_sd", s.basis.null_sd);
  visit("basis_null_perms", s.basis.permutations);
  visit("basis_null_p", s.basis.p);
  visit("nonfinite_a", s.nonfinite_a);
  visit("nonfinite_b", s.nonfinite_b);
  visit("nonfinite_mismatch", s.nonfinite_mismatch);
  visit("neuron_sampled", s.neuron_sampled);
  visit("neuron_units", s.neuron.units);
  visit("neuron_in_place", s.neuron_in_place);
  visit("neuron_sketch_dims", s.neuron_sketch_dims);
  visit("neuron_margin", s.neuron_margin);
  visit("neuron_corr", s.neuron.observed);
  visit("neuron_null_mean", s.neuron.null_mean);
  visit("neuron_null_sd", s.neuron.null_sd);
  visit("neuron_p", s.neuron.p);
  visit("mapped_same_id", s.mapped_same_id);
  visit("mapped_cosine", s.mapped_cosine);
  visit("rotation_train", s.rotation_train);
  visit("rotation_test", s.rotation_test);
  visit("rotation_train_cosine", s.rotation_train_cosine);
  visit("rotation_cosine", s.rotation.observed);
  visit("rotation_null_mean", s.rotation.null_mean);
  visit("rotation_null_sd", s.rotation.null_sd);
  visit("rotation_null_perms", s.rotation.permutations);
  visit("rotation_null_exceed", s.rotation.exceed);
  visit("rotation_null_p", s.rotation.p);
}

template <typename T>
double to_column(T v) {
  if constexpr (std::is_enum_v<T>) {
    return static_cast<double>(static_cast<std::underlying_type_t<T>>(v));
  } else {
    return static_cast<double>(v);
  }
}

/// Appends the columns of `stats` to a row-major table (a std::vector or a SpilledVector).
template <typename Table>
void append_columns(Table& table, const UnitStats& stats) {
  visit_columns(stats, [&](const char*, const auto& field) { table.push_back(to_column(field)); });
}

/// A stored count as an integer: anything outside [0, limit] (negative, huge, NaN) reads as 0.
template <typename Int>
Int stored_count(double x) {
  constexpr double limit = static_cast<double>(std::numeric_limits<Int>::max()) / 2;
  return std::isfinite(x) && x > 0 && x < limit ? static_cast<Int>(x) : Int{0};
}

template <typename T>
void from_column(double x, T& field) {
  if constexpr (std::is_same_v<T, double>) {
    field = x;
  } else if constexpr (std::is_same_v<T, NullAxis>) {
    field = x == 1 ? NullAxis::rows : x == 2 ? NullAxis::cols : NullAxis::none;
  } else {
    field = stored_count<T>(x);
  }
}

const std::vector<std::string> kNullColumns = {"hidden_corr", "null_mean", "null_sd", "null_p", "null_perms"};
const std::vector<std::string> kBasisColumns = {"basis_corr", "basis_null_mean", "basis_null_sd", "basis_null_p",
                                                "basis_null_perms"};

}  // namespace

const std::vector<std::string>& unit_stat_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    const UnitStats none;
    visit_columns(none, [&](const char* name, const auto&) { names.emplace_back(name); });
    return names;
  }();
  return kNames;
}

void append_stat_columns(std::vector<double>& table, const UnitStats& stats) { append_columns(table, stats); }

void append_stat_columns(io::SpilledVector<double>& table, const UnitStats& stats) { append_columns(table, stats); }

std::vector<double> stat_columns(const UnitStats& stats) {
  std::vector<double> columns;
  columns.reserve(unit_stat_names().size());
  append_stat_columns(columns, stats);
  return columns;
}

UnitStats unit_stats_from_columns(std::span<const double> columns) {
  if (columns.size() != unit_stat_names().size()) {
    throw InternalError("unit statistics: " + std::to_string(columns.size()) + " columns, " +
                        std::to_string(unit_stat_names().size()) + " expected");
  }
  UnitStats s;
  std::size_t i = 0;
  visit_columns(s, [&](const char*, auto& field) { from_column(columns[i++], field); });
  return s;
}

StoredUnitStats::StoredUnitStats(const io::StoreContents& store) : store_(store) {
  const auto& names = store.stat_names;
  for (const auto& name : unit_stat_names()) {
    const auto it = std::find(names.begin(), names.end(), name);
    column_of_field_.push_back(it == names.end() ? std::nullopt
                                                 : std::optional(static_cast<std::size_t>(it - names.begin())));
  }
}

bool StoredUnitStats::has(std::string_view column) const {
  return std::find(store_.stat_names.begin(), store_.stat_names.end(), column) != store_.stat_names.end();
}

void StoredUnitStats::require(std::initializer_list<std::string_view> columns) const {
  for (const auto column : columns) {
    if (!has(column)) throw StoreError("result store lacks the statistic '" + std::string(column) + "'");
  }
}

bool StoredUnitStats::has_hidden_null() const {
  return std::all_of(kNullColumns.begin(), kNullColumns.end(), [&](const auto& c) { return has(c); });
}

bool StoredUnitStats::has_basis_null() const {
  return std::all_of(kBasisColumns.begin(), kBasisColumns.end(), [&](const auto& c) { return has(c); });
}

UnitStats StoredUnitStats::row(std::size_t row) const {
  UnitStats s;
  const auto width = store_.stat_names.size();
  const double* values = store_.stats.data() + row * width;
  std::size_t field = 0;
  visit_columns(s, [&](const char*, auto& value) {
    if (const auto column = column_of_field_[field++]) from_column(values[*column], value);
  });
  return s;
}

}  // namespace lineage::stages
