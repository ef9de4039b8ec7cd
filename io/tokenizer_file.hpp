#pragma once
/// @file tokenizer_file.hpp
/// Hugging Face tokenizer.json: model type, base vocabulary, merges, added tokens and the
/// surface encoding of its tokens (GPT-2 byte alphabet vs SentencePiece '▁' + <0xNN> fallback).

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lineage::io {

enum class TokenEncoding : std::uint8_t { byte_level, sentencepiece, plain };

struct TokenizerFile {
  std::string path;
  std::string model_type;  ///< BPE, Unigram, WordPiece, WordLevel
  TokenEncoding encoding = TokenEncoding::plain;
  bool byte_fallback = false;
  /// Base vocabulary (added/special tokens excluded), sorted by id.
  std::vector<std::pair<std::int64_t, std::string>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  ///< in priority order
  struct Added {
    std::int64_t id = 0;
    std::string content;
    bool special = false;
  };
  std::vector<Added> added;
};

/// `path` is a tokenizer.json or a folder holding one. InputError on a missing or malformed
/// file (with the byte position) or an unsupported model section.
[[nodiscard]] TokenizerFile read_tokenizer_file(const std::filesystem::path& path);

/// The same from a parsed tokenizer.json (read through a ModelSource, local or remote);
/// `path` names it in messages.
[[nodiscard]] TokenizerFile tokenizer_from_json(const nlohmann::json& j, const std::string& path);

}  // namespace lineage::io
