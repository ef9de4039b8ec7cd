#pragma once
/// @file generate_model.hpp
/// A fresh ("pre-trained from scratch") synthetic model: every tensor of the family expansion
/// filled from the counter RNG, either i.i.d. or with trained-like structure (--realistic).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "tools/synth/realistic_values.hpp"
#include "tools/synth/synth_model.hpp"

namespace lineage::tools {

using lineage::is_norm_role;  // norm roles sit around 1.0 (the raw-cosine trap, METHODS §2.8)

/// Values of one tensor of a model with `seed`. Projections ~ N(0, 0.02); norm weights
/// 1 + per-layer offset + N(0, 0.1), so two independent models have raw cosine ≈ 0.99 but
/// centred cosine ≈ 0 on norms; biases ~ N(0, 0.01). Depends only on (seed, name, shape).
[[nodiscard]] std::vector<float> generate_values(const stages::ExpectedTensor& spec, std::uint64_t seed);

/// A complete model: tensors in expansion order, tokenizer with `config[vocab_key]` ids.
/// With ValueModel::realistic every tensor comes from realistic_values() with the structure
/// `structure` (default: the model's own, model_structure(seed, residual width)).
[[nodiscard]] SynthModel generate_model(const std::vector<stages::ExpectedTensor>& specs, const nlohmann::json& config,
                                        std::uint64_t seed, std::uint64_t vocab_size,
                                        ValueModel values = ValueModel::iid, const ModelStructure* structure = nullptr);

/// The provenance.json fields describing a realistic model's structure (empty for iid).
[[nodiscard]] nlohmann::json structure_provenance(ValueModel values, const ModelStructure& structure);

}  // namespace lineage::tools
