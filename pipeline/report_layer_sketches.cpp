#include "pipeline/report_layer_sketches.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "io/report/svg_plot.hpp"

namespace lineage::pipeline {
namespace {

using markup::Document;
using markup::num;
using markup::slug;
using markup::str;
using nlohmann::json;

constexpr const char* kReadLayerSketches =
    "For each matrix role (attention, routers, shared experts, dense MLP), every layer pair compared "
    "through the sketches the pass made of each layer's matrices (a covariance over neurons or heads of "
    "16 fixed hidden dimensions, which a reordering of neurons or heads leaves unchanged), averaged over "
    "the role's tensors. Left: the suspect's layers (rows) against the other model's (columns), centred "
    "on what all layers share; orange rings mark the monotone layer map. Middle and right: each model's "
    "layers against its own (the diagonal is not compared): a bright cell off the diagonal is a repeated "
    "layer. The map p is a layer-shuffle p: with few layers it cannot be small (1/L! at best).";

std::vector<double> values_of(const json& matrix) {
  std::vector<double> out;
  for (const auto& row : matrix) {
    for (const auto& x : row) out.push_back(x.is_number() ? x.get<double>() : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

io::report::HeatmapSpec heatmap(const json& m, const std::string& id, const std::string& title,
                                const std::string& row_title, const std::string& col_title, bool ring_map) {
  io::report::HeatmapSpec h;
  h.id = id;
  h.title = title;
  const auto& matrix = m["matrix"];
  h.rows = matrix.size();
  h.cols = matrix.empty() ? 0 : matrix[0].size();
  h.values = values_of(matrix);
  h.row_title = row_title;
  h.col_title = col_title;
  h.colour_title = "sketch cosine";
  h.size = 200;
  if (ring_map) {
    const auto map = m["layer_map"].get<std::vector<int>>();
    for (std::size_t i = 0; i < map.size(); ++i) {
      if (map[i] >= 0) h.marks.emplace_back(static_cast<int>(i), map[i]);
    }
  }
  return h;
}

}  // namespace

void layer_sketch_section(Document& d, const json& p, const std::string& pid) {
  if (!p.contains("layer_alignment")) return;
  std::vector<const json*> families;
  for (const auto& f : p["layer_alignment"]) {
    if (f.contains("sketches")) families.push_back(&f);
  }
  if (families.empty()) return;
  d.heading(3, "Layer × layer from the matrices' sketches", "layer-sketches-" + pid);
  d.how_to_read(kReadLayerSketches);
  std::vector<std::vector<std::string>> rows;
  for (const auto* f : families) {
    const auto& s = (*f)["sketches"];
    for (const char* which : {"raw", "centred", "within_suspect", "within_other"}) {
      const auto& a = s[which];
      rows.push_back({str(*f, "family"), which, str(a, "layer_map_text"), num(a["map_p"], "%.2g"),
                      a["best_match"].dump(), num(a["alignment_rate"], "%.2f"), a["offset"].dump(),
                      num(a["alignment_p"], "%.2g"), num(a["null_sd"], "%.3f")});
    }
  }
  d.table({"family", "matrix", "layer map", "map p", "best match per row", "alignment rate", "offset", "rate p",
           "null SD of a cell"},
          rows);
  const std::string other = str(p, "other_label");
  for (const auto* f : families) {
    const auto family = str(*f, "family");
    const auto& s = (*f)["sketches"];
    const std::string base = "layer-sketch-" + pid + "-" + slug(family);
    auto cross = heatmap(s["centred"], base + "-x",
                         family + ": suspect × " + other + ", map p " + num(s["centred"]["map_p"], "%.2g"),
                         "suspect layer", other + " layer", true);
    cross.data = {{"family", "layer-sketch"}, {"role", family}, {"matrix", "cross"}, {"pair", pid}};
    d.figure(cross.id, io::report::heatmap_svg(cross), cross.title);
    auto ws = heatmap(s["within_suspect"], base + "-ws", family + ": suspect × suspect", "suspect layer",
                      "suspect layer", false);
    ws.data = {{"family", "layer-sketch"}, {"role", family}, {"matrix", "within-suspect"}, {"pair", pid}};
    d.figure(ws.id, io::report::heatmap_svg(ws), ws.title);
    auto wo = heatmap(s["within_other"], base + "-wo", family + ": " + other + " × " + other, other + " layer",
                      other + " layer", false);
    wo.data = {{"family", "layer-sketch"}, {"role", family}, {"matrix", "within-other"}, {"pair", pid}};
    d.figure(wo.id, io::report::heatmap_svg(wo), wo.title);
    d.raw_md("\n\n");
  }
}

}  // namespace lineage::pipeline
