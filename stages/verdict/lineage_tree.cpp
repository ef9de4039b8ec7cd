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
      for (std::size_t b : keep) row.push_back(d[a][b]);
      row.push_back(du[a]);
      next.push_back(row);
      next_active.push_back(active[a]);
    }
    std::vector<double> last;
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
      self(self, nd.children[c], prefix + (top ? "" : (last ? "  " : "│ ")), c + 1 == nd.children.size(), nd.lengths[c], false);
    }
  };
  walk(walk, root, "", true, 0, true);
  return out;
}

}  // namespace lineage::stages
