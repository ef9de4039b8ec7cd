#include "stages/verdict/lineage_tree.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

std::string length(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", std::max(0.0, x));
  return buf;
}

std::string quoted(const std::string& name) {
  // Newick names with reserved characters go in single quotes ('' for a quote).
  if (name.find_first_of(" ()[]':;,") == std::string::npos) return name;
  std::string q = "'";
  for (char c : name) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

}  // namespace

LineageTree neighbour_joining(const std::vector<std::string>& names, const std::vector<std::vector<double>>& distance) {
  const std::size_t n = names.size();
  if (n < 2) throw InternalError("neighbour_joining needs at least two models");
  LineageTree t;
  std::vector<int> active;  // node index of each active cluster
  for (std::size_t i = 0; i < n; ++i) {
    t.nodes.push_back({names[i], {}, {}});
    active.push_back(static_cast<int>(i));
  }
  std::vector<std::vector<double>> d = distance;
  while (active.size() > 2) {
    const std::size_t m = active.size();
    std::vector<double> r(m, 0);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < m; ++j) r[i] += d[i][j];
    }
    // The pair minimising Q(i, j) = (m − 2) d(i, j) − r_i − r_j.
    std::size_t bi = 0, bj = 1;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = i + 1; j < m; ++j) {
        const double q = static_cast<double>(m - 2) * d[i][j] - r[i] - r[j];
        if (q < best) best = q, bi = i, bj = j;
      }
    }
    const double li = 0.5 * d[bi][bj] + (r[bi] - r[bj]) / (2.0 * static_cast<double>(m - 2));
    const double lj = d[bi][bj] - li;
    t.nodes.push_back({"", {active[bi], active[bj]}, {li, lj}});
    const int joined = static_cast<int>(t.nodes.size() - 1);
    // Distances from the new node; rows bi, bj are replaced by one row.
    std::vector<double> du(m);
    for (std::size_t k = 0; k < m; ++k) du[k] = 0.5 * (d[bi][k] + d[bj][k] - d[bi][bj]);
    std::vector<std::vector<double>> next;
    std::vector<int> next_active;
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < m; ++k) {
      if (k != bi && k != bj) keep.push_back(k);
    }
    for (std::size_t a : keep) {
      std::vector<double> row;
      row.reserve(keep.size() + 1);
      for (std::size_t b : keep) row.push_back(d[a][b]);
      row.push_back(du[a]);
      next.push_back(row);
      next_active.push_back(active[a]);
    }
    std::vector<double> last;
    last.reserve(keep.size() + 1);
    for (std::size_t a : keep) last.push_back(du[a]);
    last.push_back(0);
    next.push_back(last);
    next_active.push_back(joined);
    d = std::move(next);
    active = std::move(next_active);
  }
  // The last two clusters meet at an unrooted centre.
  t.nodes.push_back({"", {active[0], active[1]}, {0.5 * d[0][1], 0.5 * d[0][1]}});
  t.root = static_cast<int>(t.nodes.size() - 1);
  return t;
}

std::string LineageTree::newick() const {
  std::string out;
  auto walk = [&](auto&& self, int node) -> void {
    const auto& nd = nodes[static_cast<std::size_t>(node)];
    if (nd.children.empty()) {
      out += quoted(nd.name);
      return;
    }
    out += "(";
    for (std::size_t c = 0; c < nd.children.size(); ++c) {
      if (c) out += ",";
      self(self, nd.children[c]);
      out += ":" + length(nd.lengths[c]);
    }
    out += ")";
  };
  walk(walk, root);
  return out + ";";
}

std::string LineageTree::drawing() const {
  std::string out;
  auto walk = [&](auto&& self, int node, const std::string& prefix, bool last, double len, bool top) -> void {
    const auto& nd = nodes[static_cast<std::size_t>(node)];
    out += prefix + (top ? "" : (last ? "└─" : "├─")) + (top ? "" : "[" + length(len) + "] ") +
           (nd.children.empty() ? nd.name : "+") + "\n";
    for (std::size_t c = 0; c < nd.children.size(); ++c) {
      self(self, nd.children[c], prefix + (top ? "" : (last ? "  " : "│ ")), c + 1 == nd.children.size(), nd.lengths[c],
           false);
    }
  };
  walk(walk, root, "", true, 0, true);
  return out;
}

std::string LineageTree::svg(const std::string& title) const {
  // Layout: leaves get y = 0, 1, 2, ... in drawing order; an inner node sits at the mean of its
  // children; x accumulates branch lengths from the root.
  std::vector<double> x(nodes.size(), 0), y(nodes.size(), 0);
  double next_leaf = 0, max_x = 0;
  auto place = [&](auto&& self, int node, double at) -> void {
    const auto i = static_cast<std::size_t>(node);
    x[i] = at;
    max_x = std::max(max_x, at);
    if (nodes[i].children.empty()) {
      y[i] = next_leaf++;
      return;
    }
    double sum = 0;
    for (std::size_t c = 0; c < nodes[i].children.size(); ++c) {
      self(self, nodes[i].children[c], at + std::max(0.0, nodes[i].lengths[c]));
      sum += y[static_cast<std::size_t>(nodes[i].children[c])];
    }
    y[i] = sum / static_cast<double>(nodes[i].children.size());
  };
  place(place, root, 0);
  const double width = 640, left = 20, label_room = 220, top = 50, row = 28;
  const double scale = max_x > 0 ? (width - left - label_room) / max_x : 1;
  auto px = [&](std::size_t i) { return left + x[i] * scale; };
  auto py = [&](std::size_t i) { return top + y[i] * row; };
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"13\">\n",
                width, top + next_leaf * row + 30);
  out += buf;
  auto escape = [](const std::string& t) {
    std::string e;
    for (char c : t) e += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
    return e;
  };
  out += "<text x=\"20\" y=\"24\" font-weight=\"bold\">" + escape(title) + "</text>\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const int child : nodes[i].children) {
      const auto c = static_cast<std::size_t>(child);
      std::snprintf(buf, sizeof buf,
                    "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#333\" stroke-width=\"1.5\"/>\n", px(i),
                    py(i), py(c), px(c));
      out += buf;
    }
    if (nodes[i].children.empty()) {
      std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\">", px(i) + 6, py(i) + 4);
      out += buf + escape(nodes[i].name) + "</text>\n";
    }
  }
  // Scale bar: 0.1 distance units.
  const double bar = 0.1 * scale;
  std::snprintf(buf, sizeof buf,
                "<path d=\"M20 %.1f h%.1f\" stroke=\"#333\"/><text x=\"20\" y=\"%.1f\" font-size=\"11\">0.1 (1 − "
                "median Pearson)</text>\n",
                top + next_leaf * row, bar, top + next_leaf * row + 16);
  out += buf;
  return out + "</svg>\n";
}

}  // namespace lineage::stages
