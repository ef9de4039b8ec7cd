#include "pipeline/report_document.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/version.hpp"
#include "io/report/svg_plot.hpp"
#include "pipeline/report_forensics.hpp"
#include "pipeline/report_layer_sketches.hpp"
#include "pipeline/report_markup.hpp"
#include "pipeline/verdict_report.hpp"
#include "stages/verdict/layer_profile.hpp"
#include "stages/verdict/store_evidence.hpp"

namespace lineage::pipeline {
namespace {

using io::report::xml_escape;
using markup::Document;
using markup::folder_name;
using markup::num;
using markup::slug;
using markup::str;
using nlohmann::json;

// ---- how to read each plot, and what the statistics cannot show (shared by HTML and Markdown)

constexpr const char* kReadComponents =
    "One row per component of the model (attention, norms, routers, experts, ...). The bars are a "
    "histogram of h, the hidden-matched correlation of every tested unit (one tensor of one layer, or "
    "one expert), on a fixed axis from about -0.2 to 1. The grey band is the component's permutation "
    "null (mean ± 3 SD): where independently trained weights would fall. The orange tick is the "
    "effect the verdict uses. Bars far to the right of the band mean the weights still share their "
    "hidden units; bars inside it mean no evidence. The p-value is Holm-adjusted over the component's "
    "tests; the verdict needs both p ≤ 1e-6 and an effect ≥ 0.1 at ≥ 10 null SDs.";
constexpr const char* kReadCurves =
    "One chart per role (a tensor kind such as attn_q or the routed experts' up projection), one line per "
    "model the suspect was compared with: its parent and every control. The y axis is h, the "
    "hidden-matched correlation per layer (the mean over the layer's experts); roles without an "
    "exchangeable axis show the element-wise Pearson correlation instead. The grey band is the permutation "
    "null (mean ± 3 SD) of the first pair: a line that runs along it is what unrelated weights give. "
    "A derived model's line sits near 1 at every layer; a fine-tune sits slightly below 1; a model that "
    "reused only some layers steps between the two. A control's line must stay in the band for the "
    "parent's to mean anything.";
constexpr const char* kReadHeatmaps =
    "For each role, the suspect's layers (rows) against the other model's layers (columns), left raw "
    "cosine, right centred (Pearson) correlation, on one colour scale from -1 to 1. The diagonal holds "
    "the same-layer comparisons, the cells off it the cross-layer baselines (all layer pairs for norm "
    "vectors, the next layer for matrices); grey cells were not compared. A derived model shows a bright "
    "diagonal in the centred map against a dark background; a model whose layers were repeated or "
    "dropped shows the bright cells off the diagonal, where the layer map (orange rings) finds them. "
    "Compare the two maps: a raw map that is bright everywhere while the centred one is dark is the "
    "norm-vector trap, not evidence.";
constexpr const char* kReadExperts =
    "Per MoE layer, which expert of the other model each suspect expert is (rows: suspect experts, "
    "columns: the other model's). Each row has one coloured cell, at the expert its router row matches "
    "under the assignment that maximises the summed correlation; the colour is that correlation. A "
    "diagonal means the experts sit in place; a scattered but bright pattern means they were permuted; "
    "empty columns are experts of the other model that no suspect expert took (pruned). Maximising "
    "inflates the matched mean even for unrelated routers, so the p-value compares it with the same "
    "maximisation under relabellings of the hidden axis.";
constexpr const char* kReadDistance =
    "Every model of the merged store against every other: 1 − the median Pearson of the pair's "
    "same-key units (0 for identical weights, about 1 for unrelated ones). Dark is close. The tree "
    "is neighbour-joining over this matrix: models joined by short branches share weights. The tree "
    "has no root and no direction: it cannot say which model came first.";
constexpr const char* kCannotShow =
    "<li>Raw cosine of norm weights is never evidence: every γ vector starts at 1, so two unrelated "
    "models have raw norm cosines near 0.99. The verdict uses centred statistics and permutation nulls "
    "only; raw cosine is drawn beside them so the difference can be seen.</li>"
    "<li>Which model came first. The statistics are symmetric; the direction comes from the labels the "
    "run was given (suspect, parent), not from the weights.</li>"
    "<li>Derivation through the outputs alone (distillation, training on generated data) leaves no "
    "shared weights: the weights then read independent, and only the behaviour evidence can speak.</li>"
    "<li>A common ancestor. Two models derived from one base look derived from each other; controls "
    "(and a merged store with the base) tell the cases apart.</li>"
    "<li>Transformations beyond permutations: h and g survive reordered neurons, heads and experts, "
    "not an arbitrary rotation of the hidden basis.</li>"
    "<li>Independence without power: a component too small to show an effect of 0.1 is inconclusive, "
    "never independent.</li>";

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

constexpr const char* kStyle =
    "body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222;line-height:1.4}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:middle}"
    "th{background:#f2f2f2}.meta{color:#555;font-size:13px}.read{background:#f6f8fa;padding:6px 10px;"
    "border-left:3px solid #0072b2;font-size:13px}.fig{display:inline-block;margin:4px;vertical-align:top}"
    ".verdict{font-size:18px;font-weight:bold}section{border-top:1px solid #ddd;margin-top:1.5em}"
    "pre{background:#f6f8fa;padding:6px;overflow:auto;font-size:12px}";

/// The suspect's label and folder, and the other's, from one pair of the verdict JSON.
std::string pair_title(const json& p) {
  return str(p, "suspect_label") + " " + folder_name(str(p, "suspect")) + " vs " + str(p, "other_label") + " " +
         folder_name(str(p, "other"));
}

void header(Document& d, const io::StoreContents& store, const std::string& store_name, const std::string& date) {
  d.heading(1, "lineage report: " + (store.models.empty() ? store_name : folder_name(store.models[0].path)));
  d.paragraph("store " + store_name + " · run " + store.run_id + " · written by " + store.tool_version +
                  " · report by lineage " + std::string(kVersion) + " on " + date,
              "meta");
  d.heading(2, "Models", "models");
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < store.models.size(); ++i) {
    const auto& m = store.models[i];
    std::uint64_t bytes = 0;
    for (const auto s : m.shard_sizes) bytes += s;
    char fp[20];
    std::snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(m.fingerprint()));
    rows.push_back({std::to_string(i), m.label, m.path, m.family, std::to_string(m.tensors),
                    std::to_string(m.shard_files.size()), human_bytes(bytes), fp});
  }
  d.table({"#", "label", "folder", "family", "tensors", "shards", "size", "fingerprint (xxh3)"}, rows);
  std::string config = store.config_json;
  try {
    if (!config.empty()) config = json::parse(config).dump(2);
  } catch (const json::exception&) {
    // Shown as stored: the report must not fail on a config it only displays.
  }
  d.preformatted("run configuration", config.empty() ? "(none recorded)" : config);
}

void verdict_summary(Document& d, const json& v) {
  d.heading(2, "Verdicts", "verdicts");
  if (v.contains("overall_without_weights")) {
    const auto& o = v["overall_without_weights"];
    d.paragraph("No weight comparison in this store: " + str(o, "overall") + " — " + str(o, "reason"), "verdict");
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : v["pairs"]) {
    rows.push_back({str(p, "suspect_label") + " " + folder_name(str(p, "suspect")),
                    str(p, "other_label") + " " + folder_name(str(p, "other")), str(p, "overall"), str(p, "kind"),
                    num(p["p_value"], "%.2g"), str(p, "reason")});
  }
  if (!rows.empty()) d.table({"suspect", "against", "verdict", "kind", "p (Holm)", "reason"}, rows);
}

void evidence_beside(Document& d, const json& v) {
  if (!v.contains("evidence") || v["evidence"].empty()) return;
  d.heading(2, "Tokenizer, architecture and behaviour evidence", "evidence");
  d.how_to_read(
      "Evidence beside the weights never changes the weight verdict (METHODS §10.4): it can agree with it, "
      "conflict with it, or suggest what the weights do not show. Support reads derived, against, weak or "
      "neutral.");
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : v["evidence"]) {
    rows.push_back({str(e, "kind"), str(e, "subject"), str(e, "support"), str(e, "reading")});
  }
  d.table({"kind", "subject", "support", "reading"}, rows);
  for (const auto& p : v["pairs"]) {
    if (p.contains("context")) d.paragraph("Against the weights (" + pair_title(p) + "): " + str(p["context"], "note"));
  }
  for (const auto& e : v["evidence"]) {
    if (e.contains("result"))
      d.preformatted(str(e, "kind") + " result (" + str(e, "subject") + ")", e["result"].dump(2));
  }
}

void distance_section(Document& d, const json& v) {
  if (!v.contains("distance") || v["distance"]["models"].size() < 3) return;
  const auto& dist = v["distance"];
  d.heading(2, "Distance matrix and lineage tree", "tree");
  d.how_to_read(kReadDistance);
  io::report::HeatmapSpec h;
  h.id = "distance";
  h.title = "distance between models";
  h.data = {{"family", "distance"}};
  h.row_labels = dist["models"].get<std::vector<std::string>>();
  h.col_labels = h.row_labels;
  h.rows = h.cols = h.row_labels.size();
  h.row_title = "model";
  h.col_title = "model";
  h.colour_title = "1 − median Pearson";
  h.map = io::report::ColourMap::cividis;
  h.lo = 0;
  h.hi = 1;
  for (const auto& row : dist["matrix"]) {
    for (const auto& x : row) {
      h.values.push_back(x.is_number() ? x.get<double>() : std::nan(""));
      if (x.is_number()) h.hi = std::max(h.hi, x.get<double>());
    }
  }
  d.figure("distance", io::report::heatmap_svg(h), "distance matrix");
  if (v.contains("tree")) {
    d.figure("tree", v["tree"]["svg"].get<std::string>(), "neighbour-joining tree");
    d.preformatted("tree as text (Newick: " + str(v["tree"], "newick") + ")", str(v["tree"], "drawing"));
  } else if (!dist["missing_pairs"].empty()) {
    d.paragraph("No tree: some pairs were never compared: " + dist["missing_pairs"].dump());
  }
}

void components_table(Document& d, const json& p, const std::map<std::string, std::vector<double>>& h_by_component,
                      const std::string& pid) {
  d.heading(3, "Components");
  d.how_to_read(kReadComponents);
  std::vector<std::vector<std::string>> rows, strips;
  for (const auto& c : p["components"]) {
    const auto name = str(c, "component");
    rows.push_back({name, str(c, "verdict") + (str(c, "kind").empty() ? "" : " (" + str(c, "kind") + ")"),
                    std::to_string(c.value("same_key_units", 0)), num(c["median_pearson"], "%.3f"),
                    num(c["effect"], "%.3f"), num(c["null_mean"], "%.3f") + " ± " + num(c["null_sd"], "%.3f"),
                    num(c["z"], "%.1f"), num(c["p_value"], "%.2g"), num(c["median_rel_l2"], "%.3f")});
    io::report::StripSpec s;
    s.data = {{"component", name}, {"pair", pid}};
    if (const auto it = h_by_component.find(name); it != h_by_component.end()) s.values = it->second;
    for (const double x : s.values) {
      if (std::isfinite(x)) s.lo = std::min(s.lo, std::floor(x * 10) / 10);
    }
    if (c["null_mean"].is_number() && c["null_sd"].is_number()) {
      const double m = c["null_mean"].get<double>(), sd = c["null_sd"].get<double>();
      s.band = std::make_pair(m - 3 * sd, m + 3 * sd);
    }
    if (c["effect"].is_number()) s.marker = c["effect"].get<double>();
    strips.push_back({io::report::strip_svg(s)});
  }
  d.table(
      {"component", "verdict", "units", "median Pearson", "effect h", "null (mean ± SD)", "z", "p (Holm)", "rel_l2"},
      rows, strips, "h of every tested unit");
  for (const auto& c : p["components"]) {
    if (!str(c, "reason").empty()) d.raw_md("- " + str(c, "component") + ": " + str(c, "reason") + "\n");
  }
  d.raw_md("\n");
}

void pair_section(Document& d, const io::StoreContents& store, const json& p, const stages::EvidenceList& units) {
  const int a = p["model_a"].get<int>(), b = p["model_b"].get<int>();
  const std::string pid = std::to_string(a) + "-" + std::to_string(b);
  d.raw_html("<section class=\"pair\" id=\"pair-" + pid + "\" data-pair=\"" + pid + "\">\n");
  d.heading(2, pair_title(p));
  d.paragraph("verdict: " + str(p, "overall") + (str(p, "kind").empty() ? "" : " (" + str(p, "kind") + ")") + ", p " +
                  num(p["p_value"], "%.2g"),
              "verdict");
  d.paragraph(str(p, "reason"));
  d.paragraph("suspect " + str(p, "suspect") + "; " + str(p, "other_label") + " " + str(p, "other"), "meta");
  if (p.contains("kinds") && !p["kinds"].empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : p["kinds"]) rows.push_back({str(k, "kind"), num(k["p_value"], "%.2g"), str(k, "evidence")});
    d.table({"kind", "p", "evidence"}, rows);
  }
  if (p.contains("controls")) d.paragraph("Controls: " + str(p["controls"], "note"));
  components_table(d, p, stages::hidden_corr_by_component(units), pid);

  // Layer x layer, raw against centred, with the layer map where one was found.
  const auto grids = stages::layer_grids(units);
  std::vector<std::pair<int, int>> marks;
  if (p.contains("layer_map")) {
    const auto map = p["layer_map"]["suspect_to_other"].get<std::vector<int>>();
    for (std::size_t i = 0; i < map.size(); ++i) {
      if (map[i] >= 0) marks.emplace_back(static_cast<int>(i), map[i]);
    }
  }
  if (!grids.empty()) {
    d.heading(3, "Layer × layer similarity, raw and centred");
    d.how_to_read(kReadHeatmaps);
    if (p.contains("layer_map")) {
      std::string text = "Layer map (" + str(p["layer_map"], "method") + "): ";
      const auto& map = p["layer_map"]["suspect_to_other"];
      for (std::size_t i = 0; i < map.size(); ++i) {
        text += (i ? ", " : "") + std::to_string(i) + "→" + (map[i].get<int>() < 0 ? "?" : map[i].dump());
      }
      d.paragraph(text);
    }
    for (const auto& g : grids) {
      for (const bool centred : {false, true}) {
        io::report::HeatmapSpec h;
        h.id = "grid-" + pid + "-" + slug(g.group) + (centred ? "-c" : "-r");
        h.title = g.group + (centred ? ": centred (Pearson)" : ": raw cosine");
        h.data = {{"family", "layers"}, {"scale", centred ? "centred" : "raw"}, {"role", g.group}, {"pair", pid}};
        h.rows = static_cast<std::size_t>(g.suspect_layers);
        h.cols = static_cast<std::size_t>(g.other_layers);
        h.values = centred ? g.pearson : g.cosine;
        h.row_title = "suspect layer";
        h.col_title = str(p, "other_label") + " layer";
        h.colour_title = centred ? "Pearson" : "cosine";
        h.marks = marks;
        h.size = 200;
        d.figure(h.id, io::report::heatmap_svg(h), h.title);
      }
      d.raw_md("\n\n");
    }
  }
  layer_sketch_section(d, p, pid);

  // Expert matching per layer.
  if (p.contains("expert_matching") && !p["expert_matching"].empty()) {
    const auto layout = stages::layout_of(store, a, b);
    d.heading(3, "Expert matching by router rows");
    d.how_to_read(kReadExperts);
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : p["expert_matching"]) {
      rows.push_back({m["layer"].dump(), std::to_string(m["suspect_to_other"].size()), m["in_place"].dump(),
                      m["unmatched_other"].dump(), num(m["matched_mean"], "%.3f"),
                      num(m["null_mean"], "%.3f") + " ± " + num(m["null_sd"], "%.3f"), num(m["p_value"], "%.2g")});
    }
    d.table(
        {"layer", "suspect experts", "in place", "other's experts not taken", "matched mean", "null (mean ± SD)", "p"},
        rows);
    // Many layers: the matrices go in a collapsed block so the page stays readable.
    const bool fold = p["expert_matching"].size() > 16;
    if (fold) d.raw_html("<details><summary>per-layer matrices</summary>\n");
    for (const auto& m : p["expert_matching"]) {
      const auto layer = m["layer"].get<int>();
      auto h = expert_match_heatmap(m, layout.other_experts, str(p, "other_label"));
      h.id = "experts-" + pid + "-L" + std::to_string(layer);
      h.title = "layer " + std::to_string(layer) + ": expert matching";
      h.data = {{"family", "experts"}, {"layer", std::to_string(layer)}, {"pair", pid}};
      h.colour_title = "router-row Pearson";
      d.figure(h.id, io::report::heatmap_svg(h), h.title);
    }
    if (fold) d.raw_html("</details>\n");
    d.raw_md("\n\n");
  }
  forensics_sections(d, p, pid, units, stages::layout_of(store, a, b).other_experts);
  d.raw_html("</section>\n");
}

void curves_section(Document& d, const io::StoreContents& store, int suspect, const std::vector<json>& pairs,
                    const stages::PairEvidence& by_pair) {
  // Per role group: one series per other model, the first pair's null band.
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::pair<std::string, stages::RoleLayers>>> per_group;
  for (const auto& p : pairs) {
    const auto it = by_pair.find({suspect, p["model_b"].get<int>()});
    if (it == by_pair.end()) continue;
    const auto label = str(p, "other_label") + " " + folder_name(str(p, "other"));
    for (auto& r : stages::role_layers(it->second)) {
      if (!per_group.count(r.group)) groups.push_back(r.group);
      per_group[r.group].emplace_back(label, std::move(r));
    }
  }
  if (groups.empty()) return;
  const auto sid = std::to_string(suspect);
  d.raw_html("<section class=\"curves\" id=\"curves-" + sid + "\" data-suspect=\"" + sid + "\">\n");
  d.heading(2, "Per-layer curves: " + store.models[static_cast<std::size_t>(suspect)].label + " " +
                   folder_name(store.models[static_cast<std::size_t>(suspect)].path));
  d.how_to_read(kReadCurves);
  for (const auto& group : groups) {
    const auto& list = per_group[group];
    bool has_h = false;
    for (const auto& [label, r] : list) {
      has_h =
          has_h || std::any_of(r.hidden_corr.begin(), r.hidden_corr.end(), [](double x) { return std::isfinite(x); });
    }
    io::report::LineChartSpec c;
    c.title = group;
    c.data = {{"role", group}, {"suspect", sid}};
    c.x_title = "suspect layer";
    c.y_title = has_h ? "h (hidden-matched correlation)" : "Pearson (element-wise)";
    c.y_hi = 1.0;
    for (const auto& [label, r] : list) {
      io::report::Series s{"vs " + label, {}, has_h ? r.hidden_corr : r.pearson};
      for (const int l : r.layers) s.x.push_back(l);
      c.series.push_back(std::move(s));
    }
    if (has_h) {
      const auto& r = list.front().second;
      io::report::Band band{"null ± 3 SD", {}, {}, {}};
      for (std::size_t i = 0; i < r.layers.size(); ++i) {
        band.x.push_back(r.layers[i]);
        band.lo.push_back(r.null_mean[i] - 3 * r.null_sd[i]);
        band.hi.push_back(r.null_mean[i] + 3 * r.null_sd[i]);
      }
      c.band = std::move(band);
    }
    d.figure("curves-" + sid + "-" + slug(group), io::report::line_chart_svg(c), group);
  }
  d.raw_md("\n\n");
  d.raw_html("</section>\n");
}

}  // namespace

ReportFiles build_report(const io::StoreContents& store, const std::string& store_name, const std::string& date) {
  const auto verdicts = verdicts_from_store(store);
  const auto by_pair = store.units.empty() ? stages::PairEvidence{} : stages::evidence_by_pair(store);
  Document d;
  header(d, store, store_name, date);
  verdict_summary(d, verdicts);
  evidence_beside(d, verdicts);
  distance_section(d, verdicts);
  std::vector<int> suspects;
  std::size_t drawn = 0;
  for (const auto& p : verdicts["pairs"]) {
    const int a = p["model_a"].get<int>(), b = p["model_b"].get<int>();
    if (std::find(suspects.begin(), suspects.end(), a) == suspects.end()) suspects.push_back(a);
    if (drawn++ == kMaxPairSections) {
      d.paragraph("Further pairs are listed in the verdict table above but not drawn (more than " +
                  std::to_string(kMaxPairSections) + "); lineage verdict --json has their numbers.");
    }
    if (drawn > kMaxPairSections) continue;
    const auto it = by_pair.find({a, b});
    static const stages::EvidenceList kNoEvidence;
    pair_section(d, store, p, it == by_pair.end() ? kNoEvidence : it->second);  // a reference, not a copy
  }
  for (const int s : suspects) {
    std::vector<json> pairs;
    for (const auto& p : verdicts["pairs"]) {
      if (p["model_a"].get<int>() == s) pairs.push_back(p);
    }
    curves_section(d, store, s, pairs, by_pair);
  }
  d.heading(2, "What these statistics cannot show", "limits");
  d.raw_html(std::string("<ul>") + kCannotShow + "</ul>\n");
  std::string md_limits = kCannotShow;
  for (const auto* tag : {"</li>"}) {
    for (auto pos = md_limits.find(tag); pos != std::string::npos; pos = md_limits.find(tag)) {
      md_limits.replace(pos, std::string(tag).size(), "\n");
    }
  }
  for (auto pos = md_limits.find("<li>"); pos != std::string::npos; pos = md_limits.find("<li>")) {
    md_limits.replace(pos, 4, "- ");
  }
  d.raw_md(md_limits + "\n");

  ReportFiles out;
  out.html =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"utf-8\"/>"
      "<title>" +
      xml_escape("lineage report: " + store_name) + "</title><style>" + kStyle + "</style></head>\n<body>\n" + d.html_ +
      "</body></html>\n";
  out.markdown = d.md_;
  out.figures = std::move(d.figures_);
  return out;
}

}  // namespace lineage::pipeline
