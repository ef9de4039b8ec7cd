#include "tools/synth/realistic_values.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "tools/synth/counter_rng.hpp"
#include "tools/synth/synth_model.hpp"

namespace lineage::tools {
namespace {

/// Which axis of a tensor's HF-orientation matrix [out, in] is the residual stream.
enum class ResidualAxis : std::uint8_t { none, in, out };

ResidualAxis residual_axis(const TensorKey& k) noexcept {
  switch (k.role) {
    case TensorRole::attn_q:
    case TensorRole::attn_k:
    case TensorRole::attn_v:
    case TensorRole::attn_qkv:
    case TensorRole::mla_q_a:
    case TensorRole::mla_kv_a:
    case TensorRole::router:
    case TensorRole::shared_expert_gate:
      return ResidualAxis::in;
    case TensorRole::attn_o:
      return ResidualAxis::out;
    case TensorRole::dense_mlp:
    case TensorRole::shared_expert:
    case TensorRole::routed_expert:
      switch (k.projection) {
        case Projection::gate:
        case Projection::up:
        case Projection::gate_up:
        case Projection::in:
          return ResidualAxis::in;
        case Projection::down:
        case Projection::out:
          return ResidualAxis::out;
        default:
          return ResidualAxis::none;
      }
    default:
      return ResidualAxis::none;
  }
}

/// Shape of one matrix block: `blocks` matrices of stored [a, b] (HF [rows, cols]).
struct Blocks {
  std::uint64_t blocks = 0, a = 0, b = 0, rows = 0, cols = 0;
  bool transposed = false;
};

std::optional<Blocks> matrix_blocks(const stages::ExpectedTensor& spec) {
  const auto& s = spec.shape;
  Blocks m;
  if (spec.layout.stacked && s.size() == 3) {
    m.blocks = s[0];
    m.a = s[1];
    m.b = s[2];
  } else if (!spec.layout.stacked && s.size() == 2) {
    m.blocks = 1;
    m.a = s[0];
    m.b = s[1];
  } else {
    return std::nullopt;
  }
  m.transposed = spec.layout.transposed;
  m.rows = m.transposed ? m.b : m.a;
  m.cols = m.transposed ? m.a : m.b;
  return m;
}

std::vector<float> iid(const stages::ExpectedTensor& spec, std::uint64_t seed, double sigma) {
  const std::uint64_t n = element_count(spec.shape);
  std::vector<float> v(n);
  const CounterRng rng(seed, spec.name);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<float>(sigma * rng.normal(i));
  return v;
}

/// [vocab, hidden] token tables: rows s_t·o⊙(√(ρμ·d)·μ + √ρlr·U_t·V/√k + √(1-ρμ-ρlr)·ε_t).
std::vector<float> token_table(const stages::ExpectedTensor& spec, const ModelStructure& st, std::uint64_t seed) {
  const std::uint64_t rows = spec.shape.at(0), d = spec.shape.at(1);
  const bool residual = d == st.hidden;
  const std::uint64_t k = std::min<std::uint64_t>(low_rank(d), d);
  // Model-level: the mean direction and the column factors (shared by every row).
  const CounterRng mean_rng(st.seed, spec.name + ":mean_direction");
  std::vector<double> mu(d);
  double norm = 0;
  for (std::uint64_t j = 0; j < d; ++j) {
    mu[j] = mean_rng.normal(j);
    norm += mu[j] * mu[j];
  }
  for (double& x : mu) x *= std::sqrt(static_cast<double>(d) / norm);  // unit · √d
  const CounterRng col_rng(st.seed, spec.name + ":column_factors");
  std::vector<double> v(k * d);
  for (std::uint64_t i = 0; i < v.size(); ++i) v[i] = col_rng.normal(i);
  // Row-level: each token's own factors and noise.
  const CounterRng row_rng(seed, spec.name + ":row_factors");
  const CounterRng noise_rng(seed, spec.name);
  const double a_mu = std::sqrt(kMeanDirectionShare);
  const double a_lr = std::sqrt(kEmbeddingLowRankShare / static_cast<double>(k));
  const double a_eps = std::sqrt(1.0 - kMeanDirectionShare - kEmbeddingLowRankShare);
  const double g = 0.02 / (residual ? st.residual_rms() : 1.0);
  std::vector<float> out(rows * d);
  std::vector<double> u(k);
  for (std::uint64_t t = 0; t < rows; ++t) {
    for (std::uint64_t c = 0; c < k; ++c) u[c] = row_rng.normal(t * k + c);
    const double s = g * token_row_scale(t);
    for (std::uint64_t j = 0; j < d; ++j) {
      double lr = 0;
      for (std::uint64_t c = 0; c < k; ++c) lr += u[c] * v[c * d + j];
      const double o = residual ? st.residual_scale(j) : 1.0;
      const double x = a_mu * mu[j] + a_lr * lr + a_eps * noise_rng.normal(t * d + j);
      out[t * d + j] = static_cast<float>(s * o * x);
    }
  }
  return out;
}

/// Matrices (and stacks of per-expert matrices): low rank plus noise, outlier dimensions scaled
/// up on the residual axis (columns of readers, rows of writers, in HF orientation).
std::vector<float> low_rank_matrix(const stages::ExpectedTensor& spec, const Blocks& m, const ModelStructure& st,
                                   std::uint64_t seed) {
  const auto axis = residual_axis(spec.key);
  const bool residual =
      (axis == ResidualAxis::in && m.cols == st.hidden) || (axis == ResidualAxis::out && m.rows == st.hidden);
  const std::uint64_t base_rank = st.hidden > 0 ? low_rank(st.hidden) : low_rank(std::min(m.rows, m.cols));
  const std::uint64_t k = std::max<std::uint64_t>(1, std::min({base_rank, m.rows, m.cols}));
  const CounterRng left_rng(seed, spec.name + ":left_factors");
  const CounterRng right_rng(seed, spec.name + ":right_factors");
  const CounterRng noise_rng(seed, spec.name);
  const double a_lr = std::sqrt(kProjectionLowRankShare / static_cast<double>(k));
  const double a_eps = std::sqrt(1.0 - kProjectionLowRankShare);
  const double g = 0.02 / (residual ? st.residual_rms() : 1.0);
  std::vector<float> out(m.blocks * m.a * m.b);
  std::vector<double> left(m.rows * k), right(k * m.cols);
  for (std::uint64_t e = 0; e < m.blocks; ++e) {
    for (std::uint64_t i = 0; i < left.size(); ++i) left[i] = left_rng.normal(e * left.size() + i);
    for (std::uint64_t i = 0; i < right.size(); ++i) right[i] = right_rng.normal(e * right.size() + i);
    for (std::uint64_t i = 0; i < m.rows; ++i) {
      for (std::uint64_t j = 0; j < m.cols; ++j) {
        double lr = 0;
        for (std::uint64_t c = 0; c < k; ++c) lr += left[i * k + c] * right[c * m.cols + j];
        double o = 1.0;
        if (residual) o = st.residual_scale(axis == ResidualAxis::in ? j : i);
        const std::uint64_t r = m.transposed ? j : i, c = m.transposed ? i : j;
        const std::uint64_t idx = (e * m.a + r) * m.b + c;
        out[idx] = static_cast<float>(g * o * (a_lr * lr + a_eps * noise_rng.normal(idx)));
      }
    }
  }
  return out;
}

/// Norm weights: 1 + the depth offset every model shares (the raw-cosine trap) + a per-model
/// per-dimension profile (the same in every layer) + per-layer spread, and a larger per-model
/// deviation on the outlier dimensions.
std::vector<float> norm_weights(const stages::ExpectedTensor& spec, const ModelStructure& st, std::uint64_t seed) {
  const std::uint64_t n = element_count(spec.shape);
  const std::uint64_t len = spec.shape.empty() ? n : spec.shape.back();
  const int layer = spec.key.layer < 0 ? 0 : spec.key.layer;
  const double offset = 0.15 * std::sin(0.7 * layer + 0.3);
  const CounterRng profile(st.seed, "norm_profile:" + std::to_string(len));
  const CounterRng rng(seed, spec.name);
  std::vector<float> v(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t j = i % len;
    double x = 1.0 + offset + 0.07 * profile.normal(j) + 0.05 * rng.normal(i);
    if (len == st.hidden) {
      const auto it = std::find(st.outlier_dims.begin(), st.outlier_dims.end(), static_cast<int>(j));
      if (it != st.outlier_dims.end()) {
        x += st.outlier_norm_offset[static_cast<std::size_t>(it - st.outlier_dims.begin())];
      }
    }
    v[i] = static_cast<float>(x);
  }
  return v;
}

}  // namespace

std::string_view to_string(ValueModel m) noexcept { return m == ValueModel::realistic ? "realistic" : "iid"; }

double ModelStructure::residual_scale(std::uint64_t j) const noexcept {
  for (std::size_t i = 0; i < outlier_dims.size(); ++i) {
    if (static_cast<std::uint64_t>(outlier_dims[i]) == j) return outlier_scale[i];
  }
  return 1.0;
}

double ModelStructure::residual_rms() const noexcept {
  if (hidden == 0) return 1.0;
  double s = static_cast<double>(hidden - outlier_dims.size());
  for (const double o : outlier_scale) s += o * o;
  return std::sqrt(s / static_cast<double>(hidden));
}

ModelStructure model_structure(std::uint64_t seed, std::uint64_t hidden) {
  ModelStructure st;
  st.seed = seed;
  st.hidden = hidden;
  if (hidden < 8) return st;  // too narrow for a handful of outliers to stand out
  const CounterRng rng(seed, "model_structure:outlier_dims");
  const std::uint64_t count = 2 + rng.bits(0) % 3;
  std::uint64_t draw = 1;
  std::vector<int> dims;
  while (dims.size() < count) {
    const auto j = static_cast<int>(rng.bits(draw++) % hidden);
    if (std::find(dims.begin(), dims.end(), j) == dims.end()) dims.push_back(j);
  }
  std::sort(dims.begin(), dims.end());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    st.outlier_dims.push_back(dims[i]);
    st.outlier_scale.push_back(5.0 + 5.0 * rng.uniform(1000 + i));
    const double sign = (rng.bits(2000 + i) & 1) ? 1.0 : -1.0;
    st.outlier_norm_offset.push_back(sign * (0.3 + 0.4 * rng.uniform(3000 + i)));
  }
  return st;
}

std::uint64_t residual_width(const std::vector<stages::ExpectedTensor>& specs) noexcept {
  for (const auto& s : specs) {
    if (s.key.role == TensorRole::embedding && s.key.kind == ParamKind::weight && s.shape.size() == 2) {
      return s.shape[1];
    }
  }
  return 0;
}

std::uint64_t low_rank(std::uint64_t hidden) noexcept { return std::max<std::uint64_t>(1, hidden / 8); }

double token_row_scale(std::uint64_t id) noexcept { return 2.0 / std::sqrt(1.0 + static_cast<double>(id) / 64.0); }

std::vector<float> realistic_values(const stages::ExpectedTensor& spec, const ModelStructure& st, std::uint64_t seed) {
  std::vector<float> v;
  const auto& k = spec.key;
  if (is_norm_role(k.role) && k.kind == ParamKind::weight) {
    v = norm_weights(spec, st, seed);
  } else if (k.kind == ParamKind::bias) {
    // Biases that write the residual stream (o_proj, down) carry the outlier dimensions too.
    v = iid(spec, seed, 0.01);
    const std::uint64_t len = spec.shape.empty() ? 0 : spec.shape.back();
    if (residual_axis(k) == ResidualAxis::out && len == st.hidden && len > 0) {
      const double rms = st.residual_rms();
      for (std::size_t i = 0; i < v.size(); ++i) {
        v[i] = static_cast<float>(v[i] * st.residual_scale(i % len) / rms);
      }
    }
  } else if ((k.role == TensorRole::embedding || k.role == TensorRole::lm_head) && k.kind == ParamKind::weight &&
             spec.shape.size() == 2 && !spec.layout.transposed) {
    v = token_table(spec, st, seed);
  } else if (const auto m = matrix_blocks(spec); m && k.kind == ParamKind::weight) {
    v = low_rank_matrix(spec, *m, st, seed);
  } else {
    v = iid(spec, seed, 0.02);  // sinks, router biases and other vectors
  }
  round_to_bf16(v);
  return v;
}

}  // namespace lineage::tools
