// UnitStats: the named statistics of a unit and their one mapping to the store's named columns.
#include "stages/execute/unit_stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"
#include "io/store/result_store.hpp"
#include "support/temp_dir.hpp"

namespace lineage::stages {
namespace {

std::size_t column(const std::string& name) {
  const auto& names = unit_stat_names();
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

/// Statistics with a different value in every column (null_axis must name an axis).
UnitStats distinct_stats(double offset) {
  std::vector<double> columns(unit_stat_names().size());
  for (std::size_t i = 0; i < columns.size(); ++i) columns[i] = static_cast<double>(i + 1) + offset;
  columns[column("null_axis")] = 2;
  return unit_stats_from_columns(columns);
}

io::StoreContents store_with(const std::vector<UnitStats>& rows) {
  io::StoreContents c;
  c.models.push_back({"suspect", "/m/a", "llama", 1, {"s.safetensors"}, {10}, {1}, {}});
  c.models.push_back({"parent", "/m/b", "llama", 1, {"s.safetensors"}, {10}, {2}, {}});
  c.stat_names = unit_stat_names();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    c.units.push_back({r, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"),
                       "q", "q", 0, 1, 0, 0, -1, 4, 8, 64});
    c.done_ids.push_back(r);
    append_stat_columns(c.stats, rows[r]);
    c.hash_a.push_back(r);
    c.hash_b.push_back(r);
  }
  return c;
}

TEST(UnitStats, ColumnsNameEveryFieldOnceInTheStoresOrder) {
  const auto& names = unit_stat_names();
  EXPECT_EQ(names.size(), 66u);
  EXPECT_EQ(names.front(), "n");
  EXPECT_EQ(names.back(), "rotation_null_p");
  auto sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  // Each named field lands in its own named column.
  const auto s = distinct_stats(0.0);
  const auto columns = stat_columns(s);
  EXPECT_EQ(columns[column("n")], static_cast<double>(s.elements));
  EXPECT_EQ(columns[column("pearson")], s.pearson);
  EXPECT_EQ(columns[column("frac_value_equal")], s.frac_value_equal);
  EXPECT_EQ(columns[column("hidden_corr")], s.hidden.observed);
  EXPECT_EQ(columns[column("null_perms")], static_cast<double>(s.hidden.permutations));
  EXPECT_EQ(columns[column("null_exceed")], static_cast<double>(s.hidden.exceed));
  EXPECT_EQ(columns[column("basis_null_p")], s.basis.p);
  EXPECT_EQ(columns[column("nonfinite_mismatch")], static_cast<double>(s.nonfinite_mismatch));
  EXPECT_EQ(columns[column("neuron_in_place")], static_cast<double>(s.neuron_in_place));
  EXPECT_EQ(columns[column("neuron_corr")], s.neuron.observed);
  EXPECT_EQ(columns[column("neuron_p")], s.neuron.p);
  EXPECT_EQ(s.null_axis, NullAxis::cols);
  EXPECT_THROW((void)unit_stats_from_columns(std::vector<double>(3, 0.0)), InternalError);
}

TEST(UnitStats, RoundTripsThroughTheStore) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "run.h5";
  auto second = distinct_stats(0.25);
  second.pearson = std::nan("");  // undefined statistics stay undefined
  const std::vector<UnitStats> rows{distinct_stats(0.0), second};
  io::write_result_store(path, store_with(rows));
  const auto back = io::read_result_store(path);
  EXPECT_EQ(back.stat_names, unit_stat_names());  // the columns on disk are the same names
  const StoredUnitStats stored(back);
  EXPECT_TRUE(stored.has_hidden_null());
  EXPECT_TRUE(stored.has_basis_null());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto want = stat_columns(rows[r]), got = stat_columns(stored.row(r));
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_TRUE(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]))) << unit_stat_names()[i];
    }
  }
  EXPECT_EQ(stored.row(0).hidden.permutations, rows[0].hidden.permutations);
  EXPECT_EQ(stored.row(1).nonfinite_a, rows[1].nonfinite_a);
  EXPECT_TRUE(std::isnan(stored.row(1).pearson));
}

TEST(UnitStats, OlderStoresAreReadByColumnName) {
  // A store of an earlier statistics version: fewer columns, in another order.
  io::StoreContents c = store_with({});
  c.stat_names = {"pearson", "n", "cosine", "null_perms"};
  c.units.push_back({0, UnitKind::same_key, parse_tensor_key("text/attn_q/L0"), parse_tensor_key("text/attn_q/L0"), "q",
                     "q", 0, 1, 0, 0, -1, 4, 8, 64});
  c.done_ids = {0};
  c.stats = {0.5, 64, 0.75, 100};
  const StoredUnitStats stored(c);
  const auto s = stored.row(0);
  EXPECT_EQ(s.pearson, 0.5);
  EXPECT_EQ(s.elements, 64u);
  EXPECT_EQ(s.cosine, 0.75);
  EXPECT_EQ(s.hidden.permutations, 100);
  EXPECT_EQ(s.nonfinite_a, 0u);            // absent: the default
  EXPECT_FALSE(stored.has_hidden_null());  // null_perms alone is not the null
  EXPECT_NO_THROW(stored.require({"pearson", "n"}));
  try {
    stored.require({"pearson", "rel_l2"});
    ADD_FAILURE() << "rel_l2 is not in the store";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("lacks the statistic 'rel_l2'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lineage::stages
