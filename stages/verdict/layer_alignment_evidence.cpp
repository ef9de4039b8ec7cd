#include "stages/verdict/layer_alignment_evidence.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "stages/execute/unit_stats.hpp"

namespace lineage::stages {

namespace {

/// The role families the layer matrices are built for; other roles (embeddings, routed experts
/// whose indices can move) have no per-layer identity to align.
constexpr std::array<const char*, 5> kFamilies = {"norms", "attention", "routers", "shared_experts", "dense_mlp"};

/// The key's verdict component (verdict_component) when it is one of kFamilies, on a layer of
/// the text stack; the final norm has no layer.
const char* family_of(const TensorKey& key) {
  if (key.component != Component::text || key.layer < 0 || key.role == TensorRole::final_norm) return nullptr;
  const auto component = verdict_component(key);
  for (const char* f : kFamilies) {
    if (component == f) return f;
  }
  return nullptr;
}

double median_of(std::vector<double> x) {
  if (x.empty()) return 0;
  const auto mid = x.begin() + static_cast<std::ptrdiff_t>(x.size() / 2);
  std::nth_element(x.begin(), mid, x.end());
  return *mid;
}

}  // namespace

std::vector<FamilyLayerAlignment> layer_alignments(const EvidenceList& units, const PairLayout& layout,
                                                   const LayerAlignmentRules& rules) {
  int rows = layout.suspect_layers, cols = layout.other_layers;
  if (rows <= 0 || cols <= 0) {
    for (const auto& u : units) {
      if (!family_of(u.key) || (u.kind != UnitKind::same_key && u.kind != UnitKind::baseline)) continue;
      rows = std::max(rows, u.key.layer + 1);
      cols = std::max(cols, (u.kind == UnitKind::baseline ? u.other_layer : u.key.layer) + 1);
    }
  }
  std::vector<FamilyLayerAlignment> out;
  if (rows <= 0 || cols <= 0) return out;
  const auto cells = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  for (const char* family : kFamilies) {
    std::vector<double> raw(cells, 0.0), centred(cells, 0.0), n_raw(cells, 0.0), n_centred(cells, 0.0);
    std::vector<double> null_sds;
    for (const auto& u : units) {
      const char* f = family_of(u.key);
      if (!f || std::string_view(f) != family) continue;
      if (u.kind != UnitKind::same_key && u.kind != UnitKind::submatrix && u.kind != UnitKind::baseline) continue;
      const int j = u.kind == UnitKind::baseline ? u.other_layer : u.key.layer;
      if (u.key.layer >= rows || j < 0 || j >= cols) continue;
      const auto k =
          static_cast<std::size_t>(u.key.layer) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(j);
      if (std::isfinite(u.cosine)) {
        raw[k] += u.cosine;
        n_raw[k] += 1;
      }
      if (u.has_null()) {
        centred[k] += u.hidden_corr;
        n_centred[k] += 1;
        null_sds.push_back(u.null_sd);
      }
    }
    LayerSimilarity s_raw{rows, cols, {}, 0}, s_centred{rows, cols, {}, median_of(null_sds)};
    bool any = false;
    for (std::size_t k = 0; k < cells; ++k) {
      s_raw.value.push_back(n_raw[k] > 0 ? raw[k] / n_raw[k] : std::numeric_limits<double>::quiet_NaN());
      s_centred.value.push_back(n_centred[k] > 0 ? centred[k] / n_centred[k]
                                                 : std::numeric_limits<double>::quiet_NaN());
      any = any || n_raw[k] > 0;
    }
    if (!any) continue;
    FamilyLayerAlignment f;
    f.family = family;
    f.statistic = "h";
    f.raw = align_layers(s_raw, rules);
    f.centred = align_layers(s_centred, rules);
    out.push_back(std::move(f));
  }
  return out;
}

void add_norm_within_alignments(std::vector<FamilyLayerAlignment>& families, const io::StoreContents& store,
                                int suspect, int other, const PairLayout& layout, const LayerAlignmentRules& rules) {
  const auto norms = std::find_if(families.begin(), families.end(), [](const auto& f) { return f.family == "norms"; });
  if (norms == families.end()) return;
  const StoredUnitStats stats(store);
  if (!stats.has("pearson")) return;
  // centred: Pearson; raw: the raw cosine (a stored column of every unit).
  const auto matrix = [&](int model, int layers, bool centred) -> std::optional<AlignedLayerMatrix> {
    std::vector<std::tuple<int, int, double>> cells;
    for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
      const auto id = store.done_ids[row];
      if (id >= store.units.size()) continue;
      const auto& u = store.units[id];
      if (u.kind != UnitKind::within || u.model_a != model || u.model_b != model) continue;
      const char* f = family_of(u.key_a);
      if (!f || std::string_view(f) != "norms") continue;
      const auto row_stats = stats.row(row);
      const double r = centred ? row_stats.pearson : row_stats.cosine;
      if (std::isfinite(r)) cells.emplace_back(u.key_a.layer, u.key_b.layer, r);
    }
    if (cells.empty()) return std::nullopt;
    for (const auto& [i, j, r] : cells) layers = std::max(layers, std::max(i, j) + 1);
    const auto n = static_cast<std::size_t>(layers);
    std::vector<double> sum(n * n, 0.0), count(n * n, 0.0);
    for (const auto& [i, j, r] : cells) {
      if (i < 0 || j < 0 || i == j) continue;
      // One unit per unordered pair of layers: the matrix is symmetric.
      for (const auto& [x, y] : {std::pair{i, j}, std::pair{j, i}}) {
        const auto k = static_cast<std::size_t>(x) * n + static_cast<std::size_t>(y);
        sum[k] += r;
        count[k] += 1;
      }
    }
    LayerSimilarity s{layers, layers, {}, 0};
    for (std::size_t k = 0; k < n * n; ++k) {
      s.value.push_back(count[k] > 0 ? sum[k] / count[k] : std::numeric_limits<double>::quiet_NaN());
    }
    AlignedLayerMatrix m;
    m.alignment = align_layers(s, rules);
    m.similarity = std::move(s);
    return m;
  };
  norms->within_suspect = matrix(suspect, layout.suspect_layers, true);
  norms->within_other = matrix(other, layout.other_layers, true);
  norms->within_suspect_raw = matrix(suspect, layout.suspect_layers, false);
  norms->within_other_raw = matrix(other, layout.other_layers, false);
}

}  // namespace lineage::stages
