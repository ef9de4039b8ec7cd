#pragma once
/// @file byte_bpe_tokenizer.hpp
/// A small but valid byte-level BPE vocabulary (the GPT-2 / Qwen / Llama-3 scheme): the 256
/// byte tokens, merges built deterministically from a seed, then a few special tokens.

#include <cstdint>
#include <nlohmann/json.hpp>

#include "tools/synth/synth_model.hpp"

namespace lineage::tools {

/// `vocab_size` ids in total (at least 256 + 4 specials).
[[nodiscard]] SynthTokenizer make_byte_bpe_tokenizer(std::uint64_t seed, std::uint64_t vocab_size);

/// Appends `count` new BPE tokens (with their merges) after every existing id, so every base
/// token keeps its id: what vocabulary extension does in practice.
void extend_tokenizer(SynthTokenizer& tok, std::uint64_t seed, std::uint64_t count);

/// tokenizer.json (HF tokenizers format: model.type BPE, vocab, merges, added_tokens,
/// ByteLevel pre-tokenizer and decoder).
[[nodiscard]] nlohmann::json tokenizer_json(const SynthTokenizer& tok);
/// tokenizer_config.json matching tokenizer_json().
[[nodiscard]] nlohmann::json tokenizer_config_json(const SynthTokenizer& tok);

}  // namespace lineage::tools
