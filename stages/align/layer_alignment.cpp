#include "stages/align/layer_alignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "stages/null/hidden_null.hpp"

namespace lineage::stages {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median_of(std::vector<double> x) {
  if (x.empty()) return kNaN;
  const auto mid = x.begin() + static_cast<std::ptrdiff_t>(x.size() / 2);
  std::nth_element(x.begin(), mid, x.end());
  if (x.size() % 2) return *mid;
  return 0.5 * (*mid + *std::max_element(x.begin(), mid));
}

/// Per row, the column of the best stored score and its margin over the second best; -1 for a
/// row with fewer than two stored cells (one cell is no comparison: a matrix role whose store
/// kept only the same layer would otherwise "align" at offset 0 whatever the models).
void best_matches(const std::vector<double>& z, int rows, int cols, std::vector<int>& best,
                  std::vector<double>* margin) {
  best.assign(static_cast<std::size_t>(rows), -1);
  if (margin) margin->assign(static_cast<std::size_t>(rows), kNaN);
  for (int i = 0; i < rows; ++i) {
    double top = -std::numeric_limits<double>::infinity(), second = top;
    for (int j = 0; j < cols; ++j) {
      const double x = z[static_cast<std::size_t>(i) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(j)];
      if (std::isnan(x)) continue;
      if (x > top) {
        second = top;
        top = x;
        best[static_cast<std::size_t>(i)] = j;
      } else if (x > second) {
        second = x;
      }
    }
    if (!std::isfinite(second)) {
      best[static_cast<std::size_t>(i)] = -1;
      continue;
    }
    if (margin) (*margin)[static_cast<std::size_t>(i)] = top - second;
  }
}

/// The constant offset most rows' best matches take and how many take it (ties: the smallest
/// |offset|, then the smaller offset, so the result does not depend on iteration order).
int best_offset(const std::vector<int>& best, int rows, int cols, int& count) {
  std::vector<int> n(static_cast<std::size_t>(rows + cols), 0);  // offset + rows - 1
  for (int i = 0; i < rows; ++i) {
    const int j = best[static_cast<std::size_t>(i)];
    if (j >= 0) ++n[static_cast<std::size_t>(j - i + rows - 1)];
  }
  int offset = 0;
  count = 0;
  for (int k = 0; k < rows + cols - 1; ++k) {
    const int d = k - (rows - 1), c = n[static_cast<std::size_t>(k)];
    if (c > count || (c == count && c > 0 && (std::abs(d) < std::abs(offset)))) {
      count = c;
      offset = d;
    }
  }
  return offset;
}

}  // namespace

double LayerSimilarity::at(int suspect, int other) const {
  return value[static_cast<std::size_t>(suspect) * static_cast<std::size_t>(other_layers) +
               static_cast<std::size_t>(other)];
}

std::vector<double> layer_scores(const LayerSimilarity& s, double& centre, double& scale) {
  std::vector<double> stored;
  for (const double x : s.value) {
    if (std::isfinite(x)) stored.push_back(x);
  }
  std::vector<double> z(s.value.size(), kNaN);
  centre = median_of(stored);
  scale = 0;
  if (stored.empty()) return z;
  std::vector<double> dev;
  dev.reserve(stored.size());
  for (const double x : stored) dev.push_back(std::abs(x - centre));
  scale = 1.4826 * median_of(dev);
  // Most cells equal (e.g. one value off the map everywhere): the mean deviation still scales.
  if (!(scale > 0)) scale = 1.2533 * std::accumulate(dev.begin(), dev.end(), 0.0) / static_cast<double>(dev.size());
  scale = std::max(scale, s.null_sd);
  if (!(scale > 0)) return std::vector<double>(s.value.size(), kNaN);  // every cell equal: nothing to align
  for (std::size_t k = 0; k < s.value.size(); ++k) {
    if (std::isfinite(s.value[k])) z[k] = (s.value[k] - centre) / scale;
  }
  return z;
}

std::vector<int> monotone_layer_map(const std::vector<double>& z, int rows, int cols, const LayerAlignmentRules& rules,
                                    double& score) {
  const auto C = static_cast<std::size_t>(cols);
  std::vector<int> map(static_cast<std::size_t>(rows), -1);
  score = 0;
  if (rows <= 0 || cols <= 0) return map;
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  // ending[j]: the best score of a map whose last matched layer (so far) maps to column j, and
  // the cell (row * cols + j) where it ends.
  std::vector<double> ending(C, kNone);
  std::vector<std::ptrdiff_t> ending_cell(C, -1);
  std::vector<std::ptrdiff_t> previous(static_cast<std::size_t>(rows) * C, -1);  // back-pointers
  std::vector<double> value(static_cast<std::size_t>(rows) * C, kNone);
  double best = 0;
  std::ptrdiff_t best_cell = -1;
  for (int i = 0; i < rows; ++i) {
    // The best earlier end anywhere (a restart) and at columns <= j (monotone, repeats allowed).
    double anywhere = kNone;
    std::ptrdiff_t anywhere_cell = -1;
    for (std::size_t j = 0; j < C; ++j) {
      if (ending[j] > anywhere) {
        anywhere = ending[j];
        anywhere_cell = ending_cell[j];
      }
    }
    double upto = kNone;
    std::ptrdiff_t upto_cell = -1;
    std::vector<double> row_value(C, kNone);
    for (std::size_t j = 0; j < C; ++j) {
      if (ending[j] > upto) {
        upto = ending[j];
        upto_cell = ending_cell[j];
      }
      const std::size_t cell = static_cast<std::size_t>(i) * C + j;
      if (std::isnan(z[cell])) continue;
      double from = 0;
      std::ptrdiff_t from_cell = -1;
      if (upto > from) {
        from = upto;
        from_cell = upto_cell;
      }
      if (anywhere - rules.restart_penalty > from) {
        from = anywhere - rules.restart_penalty;
        from_cell = anywhere_cell;
      }
      row_value[j] = z[cell] - rules.min_z + from;
      previous[cell] = from_cell;
      value[cell] = row_value[j];
      if (row_value[j] > best) {
        best = row_value[j];
        best_cell = static_cast<std::ptrdiff_t>(cell);
      }
    }
    for (std::size_t j = 0; j < C; ++j) {
      if (row_value[j] > ending[j]) {
        ending[j] = row_value[j];
        ending_cell[j] = static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i) * C + j);
      }
    }
  }
  score = best;
  for (std::ptrdiff_t cell = best_cell; cell >= 0; cell = previous[static_cast<std::size_t>(cell)]) {
    map[static_cast<std::size_t>(cell) / C] = static_cast<int>(static_cast<std::size_t>(cell) % C);
  }
  return map;
}

LayerAlignment align_layers(const LayerSimilarity& s, const LayerAlignmentRules& rules) {
  LayerAlignment a;
  a.suspect_layers = s.suspect_layers;
  a.other_layers = s.other_layers;
  const int rows = s.suspect_layers, cols = s.other_layers;
  if (rows <= 0 || cols <= 0 || s.value.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols)) {
    return a;
  }
  for (const double x : s.value) {
    (std::isfinite(x) ? a.cells_stored : a.cells_missing) += 1;
    a.stored.push_back(std::isfinite(x) ? 1 : 0);
  }
  const auto z = layer_scores(s, a.centre, a.scale);
  best_matches(z, rows, cols, a.best_match, &a.margin_sds);
  int count = 0, with_cells = 0;
  a.offset = best_offset(a.best_match, rows, cols, count);
  for (const int j : a.best_match) with_cells += j >= 0 ? 1 : 0;
  a.alignment_rate = with_cells ? static_cast<double>(count) / with_cells : 0.0;
  a.layer_map = monotone_layer_map(z, rows, cols, rules, a.map_score);

  // Layer-shuffle null: the other model's layers relabelled, every cell's value kept.
  std::vector<int> label(static_cast<std::size_t>(cols));
  std::iota(label.begin(), label.end(), 0);
  Relabelling relabel(rules.seed ^ (static_cast<std::uint64_t>(rows) << 20) ^ static_cast<std::uint64_t>(cols));
  std::vector<double> shuffled(z.size());
  std::vector<int> best;
  int rate_as_many = 0, map_as_many = 0;
  for (int k = 0; k < rules.shuffles; ++k) {
    relabel.shuffle(label);
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < cols; ++j) {
        const auto row = static_cast<std::size_t>(i) * static_cast<std::size_t>(cols);
        shuffled[row + static_cast<std::size_t>(label[static_cast<std::size_t>(j)])] =
            z[row + static_cast<std::size_t>(j)];
      }
    }
    best_matches(shuffled, rows, cols, best, nullptr);
    int c = 0;
    (void)best_offset(best, rows, cols, c);
    rate_as_many += c >= count ? 1 : 0;
    double score = 0;
    (void)monotone_layer_map(shuffled, rows, cols, rules, score);
    map_as_many += score >= a.map_score ? 1 : 0;
  }
  a.alignment_p = static_cast<double>(1 + rate_as_many) / (rules.shuffles + 1);
  a.map_p = static_cast<double>(1 + map_as_many) / (rules.shuffles + 1);

  std::vector<int> taken(static_cast<std::size_t>(cols), 0);
  int last = -1;
  bool any = false;
  for (const int j : a.layer_map) {
    if (j < 0) continue;
    ++taken[static_cast<std::size_t>(j)];
    if (!any || j < last) ++a.segments;
    any = true;
    last = j;
  }
  for (int j = 0; j < cols; ++j) {
    if (taken[static_cast<std::size_t>(j)] == 0) a.unmatched_other.push_back(j);
    if (taken[static_cast<std::size_t>(j)] > 1) a.repeated_other.push_back(j);
  }
  a.claimed = any && a.map_p <= rules.claim_p;
  return a;
}

std::string format_layer_map(const std::vector<int>& map) {
  std::string s = "new 0.." + std::to_string(map.empty() ? 0 : static_cast<int>(map.size()) - 1) + " <- old [";
  for (std::size_t i = 0; i < map.size(); ++i) {
    s += (i ? "," : "") + (map[i] < 0 ? std::string("-") : std::to_string(map[i]));
  }
  return s + "]";
}

}  // namespace lineage::stages
