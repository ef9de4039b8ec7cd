#include "pipeline/report_forensics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/tensor_key.hpp"
#include "stages/verdict/token_mapped_verdict.hpp"

namespace lineage::pipeline {
namespace {

using markup::Document;
using markup::num;
using markup::slug;
using markup::str;
using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// -log10 p is drawn up to here: p = 0 (an exact tail below double range) and p = 1e-300
/// mean the same to a reader.
constexpr double kMaxNegLog10 = 300;
/// Per-layer figures beyond this many go into a collapsed block.
constexpr std::size_t kUnfoldedFigures = 16;
/// Table rows beyond this many go into a collapsed block.
constexpr std::size_t kUnfoldedRows = 24;

double number(const json& v) { return v.is_number() ? v.get<double>() : kNaN; }

double neg_log10(const json& p) {
  const double x = number(p);
  if (!std::isfinite(x)) return kNaN;
  return x <= 0 ? kMaxNegLog10 : std::min(kMaxNegLog10, -std::log10(x));
}

json list(const json& p, const char* key) { return p.contains(key) && p[key].is_array() ? p[key] : json::array(); }

/// Table rows listed at most: a 64-layer, 128-expert model has 8192 MLPs, and the pictures
/// above each table show them all.
constexpr std::size_t kMaxRows = 256;

/// A table, collapsed behind `summary` when it is long, its first kMaxRows rows listed.
void folded_table(Document& d, const std::string& summary, const std::vector<std::string>& head,
                  std::vector<std::vector<std::string>> rows) {
  const std::size_t all = rows.size();
  if (all > kMaxRows) rows.resize(kMaxRows);
  const bool fold = rows.size() > kUnfoldedRows;
  if (fold) d.raw_html("<details><summary>" + io::report::xml_escape(summary) + "</summary>\n");
  d.table(head, rows);
  if (fold) d.raw_html("</details>\n");
  if (all > kMaxRows) {
    d.paragraph("The first " + std::to_string(kMaxRows) + " of " + std::to_string(all) +
                " rows; lineage verdict --json has them all.");
  }
}

constexpr const char* kReadSketches =
    "Per MoE layer, which expert of the other model each suspect expert is, found from the experts' sketches "
    "(a fixed random projection of each expert's gate, up and down matrices, so no expert is read twice). "
    "Rows: suspect experts; columns: the other model's. Each matched row has one coloured cell, its sketch "
    "correlation; a diagonal means the experts sit in place, a bright off-diagonal cell an expert that moved, "
    "a grey row a suspect expert with no counterpart and an empty column an expert of the other model that no "
    "suspect expert took (pruned). The p-value compares the matched mean with the same maximisation under "
    "relabellings of the hidden axis; the margin is how far each match stands above the row's runner-up. "
    "Router agreement counts the experts the router rows' own matching sends to the same place (p: chance "
    "agreement of unrelated matchings).";
constexpr const char* kReadNeurons =
    "Per MLP (dense, shared expert, or routed expert), the suspect's sampled neurons matched to the other "
    "model's through the gate, up and down projections separately. The maps show, per layer (rows) and expert "
    "(columns), the share of matched neurons found at their own index: bright is in place, dark is permuted "
    "(a function-preserving reordering of the hidden neurons), grey is not matched (the projections do not "
    "agree above chance: no shared neurons).";
constexpr const char* kReadUpcycling =
    "Each routed expert of the suspect matched, neuron by neuron, to the other model's dense MLP of its layer "
    "(sparse upcycling starts every expert from that MLP). Bright: the expert's neurons sit where the dense "
    "MLP has them; dark: matched, but shuffled (a function-preserving reordering); grey: not matched.";
constexpr const char* kReadBytes =
    "Tensors whose bytes are identical in both models, found by sampled digests and confirmed by a hash of "
    "the whole tensors, with the names each model gives them. Identical bytes at another layer or expert are "
    "a copy moved there (the map shows suspect layer against the other model's layer, the colour the number "
    "of identical tensors). The p-value is the chance that a collision of the 64-bit hashes explains the "
    "pairs.";
constexpr const char* kReadOutliers =
    "The norm vectors' outlier coordinates (the top-k by distance from the median) of the suspect, compared "
    "with the other model's at the same index: a match is the same BF16 value there. Per layer, -log10 of "
    "the chance that independent vectors match as often (Poisson-binomial tail); the grey band is p > 1e-3, "
    "where unrelated models stay. Layer -1 holds the norms outside the layers (the final norm).";
constexpr const char* kReadStdCurves =
    "Per role, the sampled standard deviation of each layer's weights as a curve over normalised depth, "
    "z-normalised and interpolated onto one grid for both models, so models of different depth and width "
    "compare. r is the Pearson of the concatenated curves, r_detrended the same after each curve's linear "
    "trend is removed (trained models share a trend); p_layer_shuffle relabels the other model's layers, "
    "p_controls ranks r_detrended among the controls'. Supporting only: never changes the verdict.";
constexpr const char* kReadTokens =
    "Embedding and output rows compared through the token map: row pairs are tokens with the same bytes in "
    "both tokenizers, wherever their ids are. Same-id share is the share of those tokens at the same id (below "
    "1: the vocabulary was extended or re-sorted, and id-paired rows compare different tokens). Raw cosine and "
    "h are the mapped rows' statistics (h against its relabelling null). The rotation test fits an orthogonal "
    "map on half the tokens and measures the held-out cosine; the strip shows it (orange) against the "
    "shuffled-pairing null (grey, mean ± 3 SD). A rotation aligns independent models' embeddings too, so only "
    "an excess of at least 0.5 of the room above the null counts.";

void sketch_section(Document& d, const json& p, const std::string& pid, int other_experts) {
  const auto layers = list(p, "expert_sketch_matching");
  if (layers.empty()) return;
  d.heading(3, "Expert matching from sketches", "sketches-" + pid);
  d.how_to_read(kReadSketches);
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : layers) {
    const auto match = list(m, "suspect_to_other");
    int moved = 0;
    for (std::size_t i = 0; i < match.size(); ++i) {
      const int to = match[i].get<int>();
      moved += to >= 0 && static_cast<std::size_t>(to) != i ? 1 : 0;
    }
    double least_margin = kNaN;
    for (const auto& x : list(m, "margin")) {
      if (x.is_number())
        least_margin = std::isnan(least_margin) ? x.get<double>() : std::min(least_margin, x.get<double>());
    }
    std::string projections;
    for (const auto& x : list(m, "projections"))
      projections += (projections.empty() ? "" : ", ") + x.get<std::string>();
    std::string router = "–";
    if (m.contains("router")) {
      router = m["router"]["agreement"].dump() + " of " + std::to_string(match.size()) + ", p " +
               num(m["router"]["agreement_p"], "%.2g");
    }
    rows.push_back({m["layer"].dump(), projections, m["in_place"].dump(), std::to_string(moved),
                    list(m, "unmatched_suspect").dump(), list(m, "unmatched_other").dump(),
                    num(m["matched_mean"], "%.3f"), num(m["null_mean"], "%.3f") + " ± " + num(m["null_sd"], "%.3f"),
                    num(json(least_margin), "%.3f"), num(m["p_value"], "%.2g"), router});
  }
  folded_table(d, "per-layer numbers",
               {"layer", "projections", "in place", "moved", "suspect experts unmatched", "other's experts not taken",
                "matched mean", "null (mean ± SD)", "smallest margin", "p", "router agreement"},
               rows);
  const bool fold = layers.size() > kUnfoldedFigures;
  if (fold) d.raw_html("<details><summary>per-layer matrices</summary>\n");
  for (const auto& m : layers) {
    const auto layer = m["layer"].get<int>();
    auto h = expert_match_heatmap(m, other_experts, str(p, "other_label"));
    h.id = "sketches-" + pid + "-L" + std::to_string(layer);
    h.title = "layer " + std::to_string(layer) + ": experts by sketch, p " + num(m["p_value"], "%.2g");
    h.data = {{"family", "expert-sketch"}, {"layer", std::to_string(layer)}, {"pair", pid}};
    h.colour_title = "sketch correlation";
    d.figure(h.id, io::report::heatmap_svg(h), h.title);
  }
  if (fold) d.raw_html("</details>\n");
  d.raw_md("\n\n");
}

/// Neuron matchings of one kind (`field` of the pair's JSON): against the same MLP of the other
/// model ("neurons"), or each expert against the other's dense MLP ("upcycling").
struct NeuronSectionKind {
  const char* field;
  const char* title;
  const char* how_to_read;
  const char* id;
};
constexpr NeuronSectionKind kSameMlp{"neuron_matching", "Neuron matching", kReadNeurons, "neurons"};
constexpr NeuronSectionKind kAgainstDense{
    "upcycling_neuron_matching", "Experts against the dense MLP, neuron by neuron", kReadUpcycling, "upcycling"};

void neuron_section(Document& d, const json& p, const std::string& pid, const NeuronSectionKind& kind) {
  const auto mlps = list(p, kind.field);
  if (mlps.empty()) return;
  d.heading(3, kind.title, std::string(kind.id) + "-" + pid);
  d.how_to_read(kind.how_to_read);
  int matched = 0, permuted = 0;
  std::vector<std::string> roles;
  std::map<std::string, std::pair<int, int>> extent;  // role -> (layers, experts)
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : mlps) {
    matched += m["matched"].get<bool>() ? 1 : 0;
    permuted += m["permuted"].get<bool>() ? 1 : 0;
    const auto role = str(m, "role");
    if (!extent.count(role)) roles.push_back(role);
    auto& e = extent[role];
    e.first = std::max(e.first, m["layer"].get<int>() + 1);
    e.second = std::max(e.second, m["expert"].get<int>() + 1);
    rows.push_back({role, m["layer"].dump(), m["expert"].get<int>() < 0 ? "–" : m["expert"].dump(),
                    m["matched"].get<bool>() ? (m["permuted"].get<bool>() ? "permuted" : "in place") : "not matched",
                    num(m["in_place_share"], "%.3f"), num(m["matched_corr"], "%.3f"),
                    m["agree"].dump() + " of " + m["sampled"].dump(), num(m["agreement_p"], "%.2g"),
                    num(m["p_value"], "%.2g")});
  }
  d.paragraph(std::to_string(matched) + " of " + std::to_string(mlps.size()) + " MLPs matched, " +
              std::to_string(permuted) + " of them permuted.");
  for (const auto& role : roles) {
    const auto [n_layers, n_experts] = extent[role];
    io::report::HeatmapSpec h;
    h.id = std::string(kind.id) + "-" + pid + "-" + slug(role);
    h.title = role + ": share of neurons in place";
    h.data = {{"family", kind.id}, {"role", role}, {"pair", pid}};
    h.rows = static_cast<std::size_t>(std::max(n_layers, 1));
    h.cols = static_cast<std::size_t>(std::max(n_experts, 1));
    h.values.assign(h.rows * h.cols, kNaN);
    for (const auto& m : mlps) {
      if (str(m, "role") != role || !m["matched"].get<bool>()) continue;
      const auto r = static_cast<std::size_t>(m["layer"].get<int>()),
                 c = static_cast<std::size_t>(std::max(0, m["expert"].get<int>()));
      h.values[r * h.cols + c] = number(m["in_place_share"]);
    }
    h.row_title = "layer";
    h.col_title = n_experts > 0 ? "expert" : "(one MLP per layer)";
    h.colour_title = "in-place share";
    h.map = io::report::ColourMap::cividis;
    h.lo = 0;
    h.hi = 1;
    h.missing_note = "grey: not matched";
    h.size = 150;
    d.figure(h.id, io::report::heatmap_svg(h), h.title);
  }
  d.raw_md("\n\n");
  folded_table(
      d, "per-MLP numbers",
      {"MLP", "layer", "expert", "neurons", "in-place share", "matched corr", "projections agree", "agreement p", "p"},
      rows);
}

void byte_section(Document& d, const json& p, const std::string& pid) {
  if (!p.contains("byte_identity") || p["byte_identity"].value("identical_tensors", 0) == 0) return;
  const auto& b = p["byte_identity"];
  d.heading(3, "Byte-identical tensors", "bytes-" + pid);
  d.how_to_read(kReadBytes);
  const auto moves = list(b, "layer_moves");
  d.paragraph(b["identical_tensors"].dump() + " tensors byte-identical, " + b["renamed"].dump() +
              " of them under another name; " + std::to_string(moves.size()) + " layer moves, " +
              b["experts_moved"].dump() + " experts moved; p (hash collision) " + num(b["p_value"], "%.2g") + ".");
  if (!moves.empty()) {
    io::report::HeatmapSpec h;
    h.id = "bytes-" + pid;
    h.title = "identical tensors at another layer";
    h.data = {{"family", "byte-moves"}, {"pair", pid}};
    int rows = 1, cols = 1;
    double most = 1;
    for (const auto& m : moves) {
      rows = std::max(rows, m["suspect_layer"].get<int>() + 1);
      cols = std::max(cols, m["other_layer"].get<int>() + 1);
      most = std::max(most, number(m["tensors"]));
    }
    h.rows = static_cast<std::size_t>(rows);
    h.cols = static_cast<std::size_t>(cols);
    h.values.assign(h.rows * h.cols, kNaN);
    for (const auto& m : moves) {
      const int r = m["suspect_layer"].get<int>(), c = m["other_layer"].get<int>();
      h.values[static_cast<std::size_t>(r) * h.cols + static_cast<std::size_t>(c)] = number(m["tensors"]);
      h.marks.emplace_back(r, c);
    }
    h.row_title = "suspect layer";
    h.col_title = str(p, "other_label") + " layer";
    h.colour_title = "identical tensors";
    h.lo = 0;
    h.hi = most;
    h.missing_note = "grey: none";
    h.size = 200;
    d.figure(h.id, io::report::heatmap_svg(h), h.title);
    d.raw_md("\n\n");
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : list(b, "pairs")) {
    rows.push_back({str(t, "suspect_tensor"), str(t, "other_tensor"), t["bytes"].dump(),
                    t["same_name"].get<bool>() ? "same" : "renamed"});
  }
  const std::string listed =
      rows.size() < b["identical_tensors"].get<std::size_t>() ? " (the first " + std::to_string(rows.size()) + ")" : "";
  d.paragraph("Identical pairs by name" + listed + ":");
  folded_table(d, "identical pairs", {"suspect tensor", str(p, "other_label") + " tensor", "bytes", "name"}, rows);
  std::vector<std::vector<std::string>> experts;
  for (const auto& e : list(b, "expert_moves")) {
    experts.push_back({e["layer"].dump(), e["suspect_expert"].dump(), e["other_expert"].dump(), e["tensors"].dump()});
  }
  if (!experts.empty()) {
    folded_table(d, "moved experts", {"layer", "suspect expert", str(p, "other_label") + " expert", "tensors"},
                 experts);
  }
}

void outlier_section(Document& d, const json& p, const std::string& pid) {
  if (!p.contains("outlier_fingerprint")) return;
  const auto& o = p["outlier_fingerprint"];
  const auto layers = list(o, "layers");
  if (layers.empty()) return;
  d.heading(3, "Outlier-coordinate fingerprint", "outliers-" + pid);
  d.how_to_read(kReadOutliers);
  d.paragraph("Overall: " + o["matches"].dump() + " of " + o["trials"].dump() + " outlier coordinates match (" +
              num(o["expected"], "%.2f") + " expected by chance), p " + num(o["p_value"], "%.2g") + ".");
  io::report::LineChartSpec c;
  c.title = "outlier fingerprint per layer";
  c.data = {{"family", "outliers"}, {"pair", pid}};
  c.x_title = "layer";
  c.y_title = "-log10 p";
  c.y_lo = 0;
  io::report::Series s{"vs " + str(p, "other_label"), {}, {}};
  io::report::Band chance{"p > 1e-3", {}, {}, {}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : layers) {
    s.x.push_back(number(l["layer"]));
    s.y.push_back(neg_log10(l["p_value"]));
    chance.x.push_back(number(l["layer"]));
    chance.lo.push_back(0);
    chance.hi.push_back(3);
    rows.push_back({l["layer"].dump(), l["vectors"].dump(), l["matches"].dump() + " of " + l["trials"].dump(),
                    num(l["expected"], "%.2f"), num(l["p_value"], "%.2g")});
  }
  c.series.push_back(std::move(s));
  c.band = std::move(chance);
  d.figure("outliers-" + pid, io::report::line_chart_svg(c), c.title);
  d.raw_md("\n\n");
  folded_table(d, "per-layer numbers", {"layer", "norm vectors", "matches", "expected", "p"}, rows);
}

void std_curves_section(Document& d, const json& p, const std::string& pid) {
  if (!p.contains("std_curves")) return;
  const auto& c = p["std_curves"];
  d.heading(3, "Shape-free std curves", "stdcurves-" + pid);
  d.how_to_read(kReadStdCurves);
  std::string controls;
  if (c.contains("control_r_detrended")) {
    for (const auto& [label, r] : c["control_r_detrended"].items()) {
      controls += (controls.empty() ? "" : ", ") + label + " " + num(r, "%.3f");
    }
  }
  d.paragraph("r " + num(c["r"], "%.3f") + ", r_detrended " + num(c["r_detrended"], "%.3f") + ", p_layer_shuffle " +
              num(c["p_layer_shuffle"], "%.2g") + ", p_controls " + num(c["p_controls"], "%.2g") +
              (controls.empty() ? "" : " (controls' r_detrended: " + controls + ")") + "; " +
              std::to_string(list(c, "roles").size()) + " roles, " + c["points"].dump() + " points each.");
  if (!c.contains("curves")) return;
  const bool fold = c["curves"].size() > kUnfoldedFigures;
  if (fold) d.raw_html("<details><summary>curves per role</summary>\n");
  for (const auto& [role, ab] : c["curves"].items()) {
    io::report::LineChartSpec chart;
    chart.title = role;
    chart.data = {{"family", "std-curves"}, {"role", role}, {"pair", pid}};
    chart.x_title = "normalised depth";
    chart.y_title = "sampled SD (z-normalised)";
    chart.width = 320;
    chart.height = 200;
    for (const auto& [label, key] : {std::pair<std::string, const char*>{"suspect", "suspect"},
                                     std::pair<std::string, const char*>{str(p, "other_label"), "other"}}) {
      io::report::Series s{label, {}, {}};
      const auto ys = list(ab, key);
      for (std::size_t i = 0; i < ys.size(); ++i) {
        s.x.push_back(ys.size() > 1 ? static_cast<double>(i) / static_cast<double>(ys.size() - 1) : 0.0);
        s.y.push_back(number(ys[i]));
      }
      chart.series.push_back(std::move(s));
    }
    d.figure("stdcurves-" + pid + "-" + slug(role), io::report::line_chart_svg(chart), role);
  }
  if (fold) d.raw_html("</details>\n");
  d.raw_md("\n\n");
}

void token_map_section(Document& d, const std::string& pid, const stages::EvidenceList& units) {
  const auto mapped = stages::route_token_mapped(units).mapped;
  if (mapped.empty()) return;
  d.heading(3, "Embeddings through tokens", "tokens-" + pid);
  d.how_to_read(kReadTokens);
  std::vector<std::vector<std::string>> rows, strips;
  for (const auto& u : mapped) {
    const bool fitted = std::isfinite(u.rotation_cosine);
    rows.push_back(
        {to_string(u.key), std::to_string(u.mapped_tokens), num(json(u.mapped_same_id), "%.3f"),
         num(json(u.cosine), "%.3f"), num(json(u.hidden_corr), "%.3f"),
         num(json(u.null_mean), "%.3f") + " ± " + num(json(u.null_sd), "%.3f") + ", p " + num(json(u.null_p), "%.2g"),
         fitted ? num(json(u.rotation_cosine), "%.3f") : "not fitted",
         fitted ? num(json(u.rotation_null_mean), "%.3f") + " ± " + num(json(u.rotation_null_sd), "%.3f") : "–",
         fitted ? num(json(u.rotation_null_p), "%.2g") : "–",
         fitted ? num(json(stages::rotation_excess(u)), "%.3f") : "–"});
    io::report::StripSpec s;
    // No data-pair: a pair's strips with data-pair are its components' (report.sh counts them).
    s.data = {{"family", "token-rotation"}, {"unit", to_string(u.key)}};
    if (fitted) {
      s.band =
          std::make_pair(u.rotation_null_mean - 3 * u.rotation_null_sd, u.rotation_null_mean + 3 * u.rotation_null_sd);
      s.marker = u.rotation_cosine;
    }
    strips.push_back({io::report::strip_svg(s)});
  }
  d.table({"unit", "shared tokens (sampled)", "same-id share", "raw cosine", "h", "h null (mean ± SD), p",
           "held-out cosine after rotation", "rotation null (mean ± SD)", "rotation p", "excess"},
          rows, strips, "rotation against its null");
}

}  // namespace

io::report::HeatmapSpec expert_match_heatmap(const json& m, int other_experts, const std::string& other_label) {
  const auto match = list(m, "suspect_to_other");
  const auto score = list(m, "score");
  int cols = other_experts;
  for (const auto& x : match) cols = std::max(cols, x.get<int>() + 1);
  io::report::HeatmapSpec h;
  h.rows = match.size();
  h.cols = static_cast<std::size_t>(std::max(cols, 1));
  h.values.assign(h.rows * h.cols, kNaN);
  for (std::size_t i = 0; i < match.size(); ++i) {
    const int to = match[i].get<int>();
    if (to >= 0 && i < score.size()) h.values[i * h.cols + static_cast<std::size_t>(to)] = number(score[i]);
  }
  h.row_title = "suspect expert";
  h.col_title = other_label + " expert";
  h.missing_note = "grey: not matched";
  h.size = 150;
  return h;
}

void forensics_sections(Document& d, const json& pair, const std::string& pid, const stages::EvidenceList& units,
                        int other_experts) {
  sketch_section(d, pair, pid, other_experts);
  neuron_section(d, pair, pid, kSameMlp);
  neuron_section(d, pair, pid, kAgainstDense);
  byte_section(d, pair, pid);
  outlier_section(d, pair, pid);
  std_curves_section(d, pair, pid);
  token_map_section(d, pid, units);
}

}  // namespace lineage::pipeline
