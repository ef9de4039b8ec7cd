#pragma once
/// @file token_map.hpp
/// Which token of one tokenizer is which token of the other: base tokens paired by the bytes
/// they decode to (stages/tokenizer/token_bytes.hpp), whatever their ids. With it, the
/// embedding and lm_head rows of a token can be compared across a vocabulary extension, an id
/// shift or a swapped tokenizer (METHODS §7.3), where row i against row i compares nothing.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/tokenizer_file.hpp"

namespace lineage::stages {

/// One token both tokenizers hold: its id in each and a hash of its bytes (the same in both,
/// so a sample chosen by it does not depend on the ids or on which model is the suspect).
struct TokenPair {
  std::int64_t id_a = 0;
  std::int64_t id_b = 0;
  std::uint64_t bytes_hash = 0;
};

struct TokenMap {
  std::vector<TokenPair> pairs;          ///< sorted by id_a
  std::size_t vocab_a = 0, vocab_b = 0;  ///< base tokens (added/special tokens excluded)
  std::size_t same_id = 0;               ///< pairs whose ids agree
  /// Byte strings that several base tokens of one side decode to (SentencePiece's "▁" and a
  /// byte-fallback piece, say): left out, since which row stands for them is not known.
  std::size_t ambiguous = 0;
  /// Every token of both vocabularies is paired with itself: rows compare by id already.
  [[nodiscard]] bool identity() const noexcept {
    return same_id == pairs.size() && pairs.size() == vocab_a && vocab_a == vocab_b;
  }
};

/// Pairs the base tokens of `a` and `b` by their bytes. Added/special tokens are not paired:
/// their rows are often fresh or reinitialised, and their text is no byte string.
[[nodiscard]] TokenMap map_tokens(const io::TokenizerFile& a, const io::TokenizerFile& b);

/// At most `max_pairs` pairs whose rows exist on both sides (id_a < rows_a, id_b < rows_b:
/// padding rows and ids beyond the table are left out), chosen by the smallest hash of their
/// bytes under `seed` (a fixed, id-independent sample), returned sorted by id_a so that the
/// rows of A are read in file order.
[[nodiscard]] std::vector<TokenPair> sample_token_pairs(const TokenMap& map, std::uint64_t rows_a, std::uint64_t rows_b,
                                                        std::size_t max_pairs, std::uint64_t seed);

}  // namespace lineage::stages
