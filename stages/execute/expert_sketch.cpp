#include "stages/execute/expert_sketch.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/errors.hpp"

namespace lineage::stages {

bool sketched(const TensorKey& k, UnitKind kind) noexcept {
  if (k.role != TensorRole::routed_expert || k.kind != ParamKind::weight) return false;
  if (k.projection != Projection::gate && k.projection != Projection::up && k.projection != Projection::down)
    return false;
  return kind == UnitKind::same_key || kind == UnitKind::expert_sketch;
}

std::vector<std::uint64_t> sketch_dims(std::uint64_t hidden) {
  if (hidden <= kSketchDims) return {};
  std::vector<std::pair<std::uint64_t, std::uint64_t>> h;
  h.reserve(hidden);
  for (std::uint64_t d = 0; d < hidden; ++d) h.emplace_back(XXH3_64bits_withSeed(&d, sizeof d, kSketchSeed), d);
  std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(kSketchDims), h.end());
  std::vector<std::uint64_t> out;
  out.reserve(kSketchDims);
  for (std::size_t i = 0; i < kSketchDims; ++i) out.push_back(h[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<float> expert_sketch(std::span<const float> dims_major, std::uint64_t neurons) {
  if (dims_major.size() != kSketchDims * neurons) throw InternalError("expert_sketch: size mismatch");
  if (neurons < 2) return {};
  // Centred over the neurons (a permutation of neurons leaves every mean and sum unchanged).
  std::vector<double> x(dims_major.size());
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    double mean = 0;
    for (std::uint64_t n = 0; n < neurons; ++n) {
      const float v = dims_major[i * neurons + n];
      x[i * neurons + n] = std::isfinite(v) ? v : 0.0;
      mean += x[i * neurons + n];
    }
    mean /= static_cast<double>(neurons);
    for (std::uint64_t n = 0; n < neurons; ++n) x[i * neurons + n] -= mean;
  }
  std::vector<float> out(kSketchWidth);
  for (std::size_t i = 0; i < kSketchDims; ++i) {
    for (std::size_t j = i; j < kSketchDims; ++j) {
      double acc = 0;
      for (std::uint64_t n = 0; n < neurons; ++n) acc += x[i * neurons + n] * x[j * neurons + n];
      out[sketch_index(i, j)] = static_cast<float>(acc / static_cast<double>(neurons));
    }
  }
  return out;
}

}  // namespace lineage::stages
