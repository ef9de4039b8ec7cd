#include "stages/verdict/store_evidence.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "core/errors.hpp"
#include "stages/execute/unit_stats.hpp"

namespace lineage::stages {

PairEvidence evidence_by_pair(const io::StoreContents& store) {
  const StoredUnitStats stats(store);
  stats.require({"pearson", "cosine", "rel_l2", "frac_value_equal", "n"});
  // The permutation null (statistics version 2); stores written before it have none.
  const bool has_null = stats.has_hidden_null(), has_basis = stats.has_basis_null();
  // UnitEvidence keeps each permutation test as named fields of its own.
  const auto take = [](const PermutationTest& t, double& observed, double& mean, double& sd, double& p, int& perms) {
    observed = t.observed;
    mean = t.null_mean;
    sd = t.null_sd;
    p = t.p;
    perms = t.permutations;
  };
  // Every ordered pair of distinct models with cross-model units: one pair per compare run, and
  // every pair of a merged store (the first model of each pair is that run's suspect).
  PairEvidence by_pair;
  // Each pair's evidence is sized first: a vector grown by doubling holds up to half as much
  // again while it moves, and a deep MoE pair has a hundred thousand units.
  std::map<std::pair<int, int>, std::size_t> counts;
  for (const auto id : store.done_ids) {
    if (id >= store.units.size()) continue;  // refused below
    const auto& u = store.units[id];
    if (u.model_a != u.model_b && u.kind != UnitKind::within) ++counts[{u.model_a, u.model_b}];
  }
  for (const auto& [pair, count] : counts) by_pair[pair].reserve(count);
  for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
    const auto id = store.done_ids[row];
    if (id >= store.units.size()) throw StoreError("result store: result for unknown unit " + std::to_string(id));
    const auto& u = store.units[id];
    // Within-model units (a model against itself) are context, not evidence about a pair.
    if (u.model_a == u.model_b || u.kind == UnitKind::within) continue;
    UnitEvidence e;
    e.kind = u.kind;
    e.key = u.key_a;
    e.other_layer = u.layer_b;
    const auto st = stats.row(row);
    e.elements = st.elements;
    e.pearson = st.pearson;
    e.cosine = st.cosine;
    e.rel_l2 = st.rel_l2;
    e.frac_equal = st.frac_value_equal;
    // Non-finite counts per side (statistics version 3); older stores have only n_nonfinite.
    e.nonfinite = st.nonfinite;
    e.nonfinite_a = st.nonfinite_a;
    e.nonfinite_b = st.nonfinite_b;
    e.nonfinite_mismatch = st.nonfinite_mismatch;
    e.bytes_equal = row < store.hash_a.size() && store.hash_a[row] == store.hash_b[row] && u.kind != UnitKind::baseline;
    if (has_null) take(st.hidden, e.hidden_corr, e.null_mean, e.null_sd, e.null_p, e.null_perms);
    if (has_basis) take(st.basis, e.basis_corr, e.basis_null_mean, e.basis_null_sd, e.basis_null_p, e.basis_perms);
    e.rows = u.rows;
    e.cols = u.cols;
    if (const auto j = store.joint_null.find(id)) e.joint_null = j->values;
    if (e.kind == UnitKind::token_mapped) {
      e.mapped_same_id = st.mapped_same_id;
      e.mapped_tokens = u.rows;
      take(st.rotation, e.rotation_cosine, e.rotation_null_mean, e.rotation_null_sd, e.rotation_null_p,
           e.rotation_perms);
    }
    by_pair[{u.model_a, u.model_b}].push_back(e);
  }
  return by_pair;
}

std::size_t unmatched_between(const io::StoreContents& store, int suspect, int other) {
  return static_cast<std::size_t>(std::count_if(store.unmatched.begin(), store.unmatched.end(), [&](const auto& u) {
    return (u.model == suspect && u.lacking_model == other) || (u.model == other && u.lacking_model == suspect);
  }));
}

/// Layers and routed experts per layer of the two models of a pair, from every key the store
/// names for them: the units' keys and the keys one model lacks.
PairLayout layout_of(const io::StoreContents& store, int suspect, int other) {
  PairLayout l;
  auto see = [](const TensorKey& k, int& layers, int& experts) {
    if (k.component != Component::text) return;
    layers = std::max(layers, k.layer + 1);
    if (k.role == TensorRole::routed_expert) experts = std::max(experts, k.expert + 1);
  };
  for (const auto& u : store.units) {
    if (u.model_a != suspect || (u.model_b != other && u.model_b != suspect)) continue;
    see(u.key_a, l.suspect_layers, l.suspect_experts);
    if (u.model_b == other) see(u.key_b, l.other_layers, l.other_experts);
  }
  for (const auto& u : store.unmatched) {
    const auto* key = u.tensor_key();
    if (key == nullptr) continue;  // a raw name says nothing about layers
    if (u.model == suspect && u.lacking_model == other) see(*key, l.suspect_layers, l.suspect_experts);
    if (u.model == other && u.lacking_model == suspect) see(*key, l.other_layers, l.other_experts);
  }
  return l;
}

std::vector<LayerMatching> router_matchings(const io::StoreContents& store, int suspect, int other) {
  std::vector<LayerMatching> out;
  for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
    const auto id = store.done_ids[row];
    const auto& u = store.units[id];
    if (u.model_a != suspect || u.model_b != other || u.key_a.role != TensorRole::router) continue;
    if (u.kind != UnitKind::same_key && u.kind != UnitKind::submatrix) continue;
    const auto values = store.values.find(id);
    if (!values || u.cols == 0) continue;
    const auto va = values->a, vb = values->b;
    // Whole routers: same_key units, and sub-matrix routers whose expert counts differ.
    const auto rows_a = va.size() / u.cols, rows_b = vb.size() / u.cols;
    if (rows_a < 2 || rows_a > rows_b || va.size() != rows_a * u.cols || vb.size() != rows_b * u.cols) continue;
    out.push_back({u.layer_a, match_experts(va, rows_a, vb, rows_b, u.cols, 0x6d61746368ULL + id)});
  }
  return out;
}

DistanceMatrix distance_matrix(const io::StoreContents& store, const PairEvidence& by_pair) {
  DistanceMatrix out;
  std::vector<int> ids;
  for (const auto& [pair, ev] : by_pair) {
    for (int m : {pair.first, pair.second}) {
      if (std::find(ids.begin(), ids.end(), m) == ids.end()) ids.push_back(m);
    }
  }
  std::sort(ids.begin(), ids.end());
  if (ids.size() < 2) return out;
  for (int m : ids) {
    auto name = std::filesystem::path(store.models[static_cast<std::size_t>(m)].path).filename().string();
    if (name.empty()) name = store.models[static_cast<std::size_t>(m)].label;
    if (std::find(out.models.begin(), out.models.end(), name) != out.models.end()) name += "#" + std::to_string(m);
    out.models.push_back(name);
  }
  const auto n = ids.size();
  std::vector<std::vector<double>> sum(n, std::vector<double>(n, 0.0));
  std::vector<std::vector<int>> count(n, std::vector<int>(n, 0));
  for (const auto& [pair, ev] : by_pair) {
    std::vector<double> p;
    for (const auto& e : ev) {
      if (e.kind == UnitKind::same_key && std::isfinite(e.pearson)) p.push_back(e.pearson);
    }
    if (p.empty()) continue;
    std::nth_element(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(p.size() / 2), p.end());
    const double d = std::max(0.0, 1.0 - p[p.size() / 2]);
    const auto i = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), pair.first) - ids.begin());
    const auto j = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), pair.second) - ids.begin());
    sum[i][j] += d, sum[j][i] += d;
    ++count[i][j], ++count[j][i];
  }
  out.distance.assign(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      if (count[i][j]) {
        out.distance[i][j] = sum[i][j] / count[i][j];
      } else {
        out.distance[i][j] = std::numeric_limits<double>::quiet_NaN();
        if (i < j) out.missing_pairs.push_back(out.models[i] + " – " + out.models[j]);
      }
    }
  }
  return out;
}

std::optional<LineageTree> lineage_tree(const DistanceMatrix& matrix) {
  if (matrix.models.size() < 3 || !matrix.complete()) return std::nullopt;
  return neighbour_joining(matrix.models, matrix.distance);
}

}  // namespace lineage::stages
