#include "tools/synth/generate_model.hpp"

#include <cmath>

#include "tools/synth/byte_bpe_tokenizer.hpp"
#include "tools/synth/counter_rng.hpp"

namespace lineage::tools {

std::vector<float> generate_values(const stages::ExpectedTensor& spec, std::uint64_t seed) {
  const std::uint64_t n = element_count(spec.shape);
  std::vector<float> v(n);
  const CounterRng rng(seed, spec.name);
  const bool norm = is_norm_role(spec.key.role) && spec.key.kind == ParamKind::weight;
  if (norm) {
    // Trained norms drift away from 1 by a layer-dependent amount shared by every model (it
    // depends on the depth, not on the seed) plus per-channel spread; that shared mean is what
    // makes raw cosine ≈ 0.99 between unrelated models.
    const int layer = spec.key.layer < 0 ? 0 : spec.key.layer;
    const double offset = 0.15 * std::sin(0.7 * layer + 0.3);
    for (std::uint64_t i = 0; i < n; ++i) {
      v[i] = static_cast<float>(1.0 + offset + 0.1 * rng.normal(i));
    }
  } else {
    const double sigma = spec.key.kind == ParamKind::bias ? 0.01 : 0.02;
    for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<float>(sigma * rng.normal(i));
  }
  round_to_bf16(v);
  return v;
}

SynthModel generate_model(const std::vector<stages::ExpectedTensor>& specs, const nlohmann::json& config,
                          std::uint64_t seed, std::uint64_t vocab_size, ValueModel values,
                          const ModelStructure* structure) {
  SynthModel m;
  m.config = config;
  m.tensors.reserve(specs.size());
  if (values == ValueModel::realistic) {
    const ModelStructure own = structure ? *structure : model_structure(seed, residual_width(specs));
    for (const auto& spec : specs) m.tensors.push_back({spec, realistic_values(spec, own, seed)});
  } else {
    for (const auto& spec : specs) m.tensors.push_back({spec, generate_values(spec, seed)});
  }
  m.tokenizer = make_byte_bpe_tokenizer(seed, vocab_size);
  return m;
}

nlohmann::json structure_provenance(ValueModel values, const ModelStructure& structure) {
  if (values != ValueModel::realistic) return nlohmann::json::object();
  return {{"structure_seed", structure.seed},
          {"hidden", structure.hidden},
          {"outlier_dims", structure.outlier_dims},
          {"outlier_scales", structure.outlier_scale},
          {"mean_direction_share", kMeanDirectionShare},
          {"low_rank", low_rank(structure.hidden)},
          {"token_row_scale", "2*(1+id/64)^-0.5"}};
}

}  // namespace lineage::tools
