#include "stages/verdict/layer_profile.hpp"

#include <array>
#include <cmath>
#include <limits>

namespace lineage::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Mean of the finite values; NaN when there are none.
struct Mean {
  double sum = 0;
  int n = 0;
  void add(double v) {
    if (std::isfinite(v)) sum += v, ++n;
  }
  [[nodiscard]] double value() const { return n ? sum / n : kNaN; }
};

bool in_place(const UnitEvidence& e) { return e.kind == UnitKind::same_key || e.kind == UnitKind::submatrix; }

}  // namespace

std::string role_group(const TensorKey& key) {
  auto k = key;
  k.layer = -1;
  k.expert = -1;
  return to_string(k);
}

std::vector<RoleLayers> role_layers(const EvidenceList& units) {
  struct Acc {
    std::string component;
    std::map<int, std::array<Mean, 5>> by_layer;  // h, null mean, null sd, pearson, cosine
  };
  std::map<std::string, Acc> groups;
  for (const auto& e : units) {
    if (!in_place(e) || e.key.layer < 0) continue;
    auto& acc = groups[role_group(e.key)];
    acc.component = verdict_component(e.key);
    auto& m = acc.by_layer[e.key.layer];
    if (e.has_null()) {
      m[0].add(e.hidden_corr);
      m[1].add(e.null_mean);
      m[2].add(e.null_sd);
    }
    m[3].add(e.pearson);
    m[4].add(e.cosine);
  }
  std::vector<RoleLayers> out;
  for (const auto& [group, acc] : groups) {
    RoleLayers r{group, acc.component, {}, {}, {}, {}, {}, {}};
    for (const auto& [layer, m] : acc.by_layer) {
      r.layers.push_back(layer);
      r.hidden_corr.push_back(m[0].value());
      r.null_mean.push_back(m[1].value());
      r.null_sd.push_back(m[2].value());
      r.pearson.push_back(m[3].value());
      r.cosine.push_back(m[4].value());
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<LayerGrid> layer_grids(const EvidenceList& units) {
  struct Acc {
    int rows = 0, cols = 0;
    std::map<std::pair<int, int>, std::array<Mean, 2>> cells;  // cosine, pearson
  };
  std::map<std::string, Acc> groups;
  for (const auto& e : units) {
    if (!(in_place(e) || e.kind == UnitKind::baseline) || e.key.layer < 0) continue;
    const int other = e.kind == UnitKind::baseline ? e.other_layer : e.key.layer;
    if (other < 0) continue;
    auto& acc = groups[role_group(e.key)];
    acc.rows = std::max(acc.rows, e.key.layer + 1);
    acc.cols = std::max(acc.cols, other + 1);
    auto& cell = acc.cells[{e.key.layer, other}];
    cell[0].add(e.cosine);
    cell[1].add(e.pearson);
  }
  std::vector<LayerGrid> out;
  for (const auto& [group, acc] : groups) {
    LayerGrid g{group, acc.rows, acc.cols, {}, {}};
    const auto n = static_cast<std::size_t>(acc.rows) * static_cast<std::size_t>(acc.cols);
    g.cosine.assign(n, kNaN);
    g.pearson.assign(n, kNaN);
    for (const auto& [rc, cell] : acc.cells) {
      const auto k =
          static_cast<std::size_t>(rc.first) * static_cast<std::size_t>(acc.cols) + static_cast<std::size_t>(rc.second);
      g.cosine[k] = cell[0].value();
      g.pearson[k] = cell[1].value();
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::map<std::string, std::vector<double>> hidden_corr_by_component(const EvidenceList& units) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& e : units) {
    if (in_place(e) && e.has_null()) out[verdict_component(e.key)].push_back(e.hidden_corr);
  }
  return out;
}

}  // namespace lineage::stages
