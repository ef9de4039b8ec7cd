#include "pipeline/layer_alignment_report.hpp"

#include <cmath>

namespace lineage {

namespace {

nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json alignment_json(const stages::LayerAlignment& a) {
  nlohmann::json margins = nlohmann::json::array();
  for (const double m : a.margin_sds) margins.push_back(finite_or_null(m));
  // Which cells the store had: the shorter of the two lists (matrices keep few layer pairs,
  // norms nearly all), as [suspect layer, other layer] pairs.
  const bool list_missing = a.cells_missing <= a.cells_stored;
  nlohmann::json cells = nlohmann::json::array();
  for (std::size_t k = 0; k < a.stored.size(); ++k) {
    if ((a.stored[k] != 0) == list_missing) continue;
    const auto cols = static_cast<std::size_t>(a.other_layers);
    cells.push_back({k / cols, k % cols});
  }
  return {{"stored_cells", a.cells_stored},
          {"missing_cells", a.cells_missing},
          {list_missing ? "missing" : "stored", cells},
          {"centre", finite_or_null(a.centre)},
          {"scale", finite_or_null(a.scale)},
          {"best_match", a.best_match},
          {"margin_sds", margins},
          {"offset", a.offset},
          {"alignment_rate", a.alignment_rate},
          {"alignment_p", a.alignment_p},
          {"layer_map", a.layer_map},
          {"layer_map_text", stages::format_layer_map(a.layer_map)},
          {"segments", a.segments},
          {"unmatched_other", a.unmatched_other},
          {"repeated_other", a.repeated_other},
          {"map_score", a.map_score},
          {"map_p", a.map_p},
          {"claimed", a.claimed}};
}

/// A sketch matrix: its alignment, the null SD of one cell, and the values row by row (null: not compared).
nlohmann::json matrix_json(const stages::AlignedLayerMatrix& m) {
  auto j = alignment_json(m.alignment);
  j["null_sd"] = m.similarity.null_sd;
  nlohmann::json rows = nlohmann::json::array();
  for (int i = 0; i < m.similarity.suspect_layers; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int k = 0; k < m.similarity.other_layers; ++k) row.push_back(finite_or_null(m.similarity.at(i, k)));
    rows.push_back(std::move(row));
  }
  j["matrix"] = std::move(rows);
  return j;
}

nlohmann::json sketches_json(const stages::FamilySketchAlignment& s) {
  return {{"tensors", s.tensors},
          {"raw", matrix_json(s.raw)},
          {"centred", matrix_json(s.centred)},
          {"within_suspect", matrix_json(s.within_suspect)},
          {"within_other", matrix_json(s.within_other)},
          {"within_suspect_raw", matrix_json(s.within_suspect_raw)},
          {"within_other_raw", matrix_json(s.within_other_raw)}};
}

}  // namespace

nlohmann::json layer_alignment_json(const std::vector<stages::FamilyLayerAlignment>& families) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : families) {
    out.push_back({{"family", f.family},
                   {"suspect_layers", f.centred.suspect_layers},
                   {"other_layers", f.centred.other_layers},
                   {"raw", alignment_json(f.raw)},
                   {"centred", alignment_json(f.centred)},
                   {"centred_statistic", f.statistic}});
    if (f.sketches) out.back()["sketches"] = sketches_json(*f.sketches);
    if (f.within_suspect) out.back()["within_suspect"] = matrix_json(*f.within_suspect);
    if (f.within_other) out.back()["within_other"] = matrix_json(*f.within_other);
    if (f.within_suspect_raw) out.back()["within_suspect_raw"] = matrix_json(*f.within_suspect_raw);
    if (f.within_other_raw) out.back()["within_other_raw"] = matrix_json(*f.within_other_raw);
  }
  return out;
}

}  // namespace lineage
