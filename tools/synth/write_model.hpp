#pragma once
/// @file write_model.hpp
/// Writes a SynthModel as a Hugging Face model folder: config.json, BF16 (or block-FP8) safetensors shards
/// `model-0000i-of-0000N.safetensors` + model.safetensors.index.json, tokenizer.json,
/// tokenizer_config.json and provenance.json.

#include <filesystem>

#include "core/family_spec.hpp"
#include "tools/synth/synth_model.hpp"

namespace lineage::tools {

/// Everything is written into a temporary sibling folder which is renamed onto `dir` at the
/// end, so a reader never sees a half-written model. An existing `dir` is replaced.
/// @param[in] block_fp8  when given, the weights a quantiser converts (converted_by_quantiser) are
///            stored as a block-FP8 release stores them (DeepSeek-V3's layout): F8_E4M3 codes of
///            value / factor, one F32 factor per 128 x 128 block (its largest magnitude / 448) in
///            `<name>_scale_inv`, and config.json gets that quantization_config
void write_model(const SynthModel& model, const std::filesystem::path& dir,
                 const QuantisationReading* block_fp8 = nullptr);

}  // namespace lineage::tools
