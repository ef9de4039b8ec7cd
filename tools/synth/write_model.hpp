#pragma once
/// @file write_model.hpp
/// Writes a SynthModel as a Hugging Face model folder: config.json, BF16 safetensors shards
/// `model-0000i-of-0000N.safetensors` + model.safetensors.index.json, tokenizer.json,
/// tokenizer_config.json and provenance.json.

#include <filesystem>

#include "tools/synth/synth_model.hpp"

namespace lineage::tools {

/// Everything is written into a temporary sibling folder which is renamed onto `dir` at the
/// end, so a reader never sees a half-written model. An existing `dir` is replaced.
void write_model(const SynthModel& model, const std::filesystem::path& dir);

}  // namespace lineage::tools
