#include "stages/align/layer_sketch_similarity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "stages/execute/expert_sketch.hpp"
#include "stages/null/hidden_null.hpp"

namespace lineage::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Per layer, the unit-length feature vector of one tensor's sketch (empty where the layer has
/// none, or nothing is left after centring: a tensor one layer alone has).
using Features = std::vector<std::vector<double>>;

Features features_of(const std::vector<std::vector<float>>& sketches, bool centred) {
  Features f(sketches.size());
  for (std::size_t l = 0; l < sketches.size(); ++l) {
    const auto& c = sketches[l];
    if (c.size() != kSketchWidth) continue;
    auto& x = f[l];
    x.assign(kSketchWidth, 0.0);
    double mean_log_var = 0;
    for (std::size_t i = 0; i < kSketchDims; ++i) {
      for (std::size_t j = i; j < kSketchDims; ++j) {
        const double vi = c[sketch_index(i, i)], vj = c[sketch_index(j, j)], cij = c[sketch_index(i, j)];
        if (i == j) {
          if (centred) {
            x[sketch_index(i, i)] = std::log(std::max(vi, 1e-30));
            mean_log_var += x[sketch_index(i, i)] / kSketchDims;
          }
        } else if (vi > 0 && vj > 0 && std::isfinite(cij)) {
          x[sketch_index(i, j)] = cij / std::sqrt(vi * vj);
        }
      }
    }
    if (centred) {
      for (std::size_t i = 0; i < kSketchDims; ++i) x[sketch_index(i, i)] -= mean_log_var;
    }
  }
  if (centred) {
    std::vector<double> mean(kSketchWidth, 0.0);
    double n = 0;
    for (const auto& x : f) {
      if (x.empty()) continue;
      for (std::size_t k = 0; k < kSketchWidth; ++k) mean[k] += x[k];
      n += 1;
    }
    for (auto& x : f) {
      if (x.empty()) continue;
      for (std::size_t k = 0; k < kSketchWidth; ++k) x[k] -= mean[k] / n;
    }
  }
  for (auto& x : f) {
    if (x.empty()) continue;
    const double norm = std::sqrt(std::inner_product(x.begin(), x.end(), x.begin(), 0.0));
    if (norm > 1e-12) {
      for (auto& v : x) v /= norm;
    } else {
      x.clear();
    }
  }
  return f;
}

/// Feature index k after relabelling the sketched dimensions by perm: entry (i, j) of the
/// relabelled sketch is entry (perm[i], perm[j]) of the original.
std::vector<std::size_t> relabelled(const std::vector<std::size_t>& perm) {
  std::vector<std::size_t> out(kSketchWidth);
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::size_t j = i; j < kSketchDims; ++j) {
      out[sketch_index(i, j)] = sketch_index(std::min(perm[i], perm[j]), std::max(perm[i], perm[j]));
    }
  }
  return out;
}

struct Side {
  int layers = 0;
  std::vector<Features> tensors;  ///< in the order of the common tensor names
};

/// The cell matrix [a.layers, b.layers] with b's features read through `index`.
std::vector<double> cells(const Side& a, const Side& b, const std::vector<std::size_t>& index, bool within) {
  const auto rows = static_cast<std::size_t>(a.layers), cols = static_cast<std::size_t>(b.layers);
  std::vector<double> sum(rows * cols, 0.0), n(rows * cols, 0.0);
  for (std::size_t t = 0; t < a.tensors.size(); ++t) {
    const auto& fa = a.tensors[t];
    const auto& fb = b.tensors[t];
    for (std::size_t i = 0; i < rows && i < fa.size(); ++i) {
      if (fa[i].empty()) continue;
      for (std::size_t j = 0; j < cols && j < fb.size(); ++j) {
        if (fb[j].empty() || (within && i == j)) continue;
        double dot = 0;
        for (std::size_t k = 0; k < kSketchWidth; ++k) dot += fa[i][k] * fb[j][index[k]];
        sum[i * cols + j] += dot;
        n[i * cols + j] += 1;
      }
    }
  }
  for (std::size_t k = 0; k < sum.size(); ++k) sum[k] = n[k] > 0 ? sum[k] / n[k] : kNaN;
  return sum;
}

LayerSimilarity similarity(const FamilySketches& a, const FamilySketches& b, bool within,
                           const SketchSimilarityOptions& options) {
  LayerSimilarity s;
  s.suspect_layers = a.layers;
  s.other_layers = b.layers;
  Side sa{a.layers, {}}, sb{b.layers, {}};
  for (const auto& name : common_tensors(a, b)) {
    sa.tensors.push_back(features_of(a.tensors.at(name), options.centred));
    sb.tensors.push_back(features_of(b.tensors.at(name), options.centred));
  }
  std::vector<std::size_t> identity(kSketchDims);
  std::iota(identity.begin(), identity.end(), std::size_t{0});
  s.value = cells(sa, sb, relabelled(identity), within);
  // The null SD of one cell: the pooled spread of every cell under relabellings of b's dimensions.
  Relabelling relabel(options.seed ^ (static_cast<std::uint64_t>(a.layers) << 32) ^
                      static_cast<std::uint64_t>(b.layers));
  double sum = 0, sum2 = 0, n = 0;
  for (int r = 0; r < options.relabellings; ++r) {
    auto perm = identity;
    relabel.shuffle(perm);
    for (const double x : cells(sa, sb, relabelled(perm), within)) {
      if (!std::isfinite(x)) continue;
      sum += x;
      sum2 += x * x;
      n += 1;
    }
  }
  if (n > 1) s.null_sd = std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1)));
  return s;
}

}  // namespace

void FamilySketches::set(const std::string& tensor, int layer, std::span<const float> sketch) {
  if (layer < 0) return;
  layers = std::max(layers, layer + 1);
  auto& list = tensors[tensor];
  if (list.size() <= static_cast<std::size_t>(layer)) list.resize(static_cast<std::size_t>(layer) + 1);
  list[static_cast<std::size_t>(layer)].assign(sketch.begin(), sketch.end());
}

std::vector<std::string> common_tensors(const FamilySketches& a, const FamilySketches& b) {
  std::vector<std::string> out;
  for (const auto& [name, list] : a.tensors) {
    if (b.tensors.count(name)) out.push_back(name);
  }
  return out;
}

LayerSimilarity sketch_layer_similarity(const FamilySketches& suspect, const FamilySketches& other,
                                        const SketchSimilarityOptions& options) {
  return similarity(suspect, other, false, options);
}

LayerSimilarity sketch_within_similarity(const FamilySketches& model, const SketchSimilarityOptions& options) {
  return similarity(model, model, true, options);
}

}  // namespace lineage::stages
