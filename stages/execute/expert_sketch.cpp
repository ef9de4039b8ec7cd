#include "stages/execute/expert_sketch.hpp"

#include <xxhash.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "core/errors.hpp"

namespace lineage::stages {

bool layer_sketched(const TensorKey& k) noexcept {
  if (k.component != Component::text || k.layer < 0 || k.kind != ParamKind::weight) return false;
  switch (k.role) {
    case TensorRole::attn_q:
    case TensorRole::attn_k:
    case TensorRole::attn_v:
    case TensorRole::attn_o:
    case TensorRole::attn_qkv:
    case TensorRole::mla_q_a:
    case TensorRole::mla_q_b:
    case TensorRole::mla_kv_a:
    case TensorRole::mla_kv_b:
    case TensorRole::router:
      return true;
    case TensorRole::shared_expert:
    case TensorRole::dense_mlp:
      return k.projection == Projection::gate || k.projection == Projection::up || k.projection == Projection::down ||
             k.projection == Projection::gate_up;
    default:
      return false;
  }
}

bool sketched(const TensorKey& k, UnitKind kind) noexcept {
  if (layer_sketched(k)) return kind == UnitKind::same_key || kind == UnitKind::layer_sketch;
  if (k.role != TensorRole::routed_expert || k.kind != ParamKind::weight) return false;
  if (k.projection != Projection::gate && k.projection != Projection::up && k.projection != Projection::down)
    return false;
  return kind == UnitKind::same_key || kind == UnitKind::expert_sketch || kind == UnitKind::matched_expert;
}

std::vector<std::uint64_t> sketch_dims(std::uint64_t hidden) {
  if (hidden <= kSketchDims) return {};
  // Every unit of a run asks for one or two hidden sizes: hash them once per thread.
  thread_local std::map<std::uint64_t, std::vector<std::uint64_t>> cache;
  if (const auto it = cache.find(hidden); it != cache.end()) return it->second;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> h;
  h.reserve(hidden);
  for (std::uint64_t d = 0; d < hidden; ++d) h.emplace_back(XXH3_64bits_withSeed(&d, sizeof d, kSketchSeed), d);
  std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(kSketchDims), h.end());
  std::vector<std::uint64_t> out;
  out.reserve(kSketchDims);
  for (std::size_t i = 0; i < kSketchDims; ++i) out.push_back(h[i].second);
  std::sort(out.begin(), out.end());
  if (cache.size() < 64) cache.emplace(hidden, out);
  return out;
}

std::vector<float> expert_sketch(std::span<const float> dims_major, std::uint64_t neurons) {
  if (dims_major.size() != kSketchDims * neurons) throw InternalError("expert_sketch: size mismatch");
  if (neurons < 2) return {};
  // Centred over the neurons (a permutation of neurons leaves every mean and sum unchanged);
  // the covariances as one small GEMM.
  using Rows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Rows x(static_cast<Eigen::Index>(kSketchDims), static_cast<Eigen::Index>(neurons));
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::uint64_t n = 0; n < neurons; ++n) {
      const float v = dims_major[i * neurons + n];
      x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(n)) = std::isfinite(v) ? v : 0.0;
    }
  }
  x.colwise() -= x.rowwise().mean();
  const Eigen::MatrixXd g = x * x.transpose() / static_cast<double>(neurons);
  std::vector<float> out(kSketchWidth);
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::size_t j = i; j < kSketchDims; ++j) {
      out[sketch_index(i, j)] = static_cast<float>(g(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)));
    }
  }
  return out;
}

}  // namespace lineage::stages
