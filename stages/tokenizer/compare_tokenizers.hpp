#pragma once
/// @file compare_tokenizers.hpp
/// Tokenizer evidence (METHODS §7.2) from two tokenizer.json files, every token compared as the
/// bytes it stands for. Says nothing about the transformer body: a new tokenizer on a reused
/// body and a reused tokenizer on a new body both exist.

#include <cstdint>
#include <string>

#include "io/tokenizer_file.hpp"

namespace lineage::stages {

struct TokenizerComparison {
  std::string type_a, type_b, encoding_a, encoding_b;
  std::size_t vocab_a = 0, vocab_b = 0;  ///< base vocabularies (added tokens excluded)
  std::size_t shared = 0;                ///< tokens (as byte strings) in both
  double jaccard = 0, share_of_a = 0, share_of_b = 0, overlap_of_smaller = 0;
  std::size_t same_id = 0;   ///< shared tokens with the same id in both
  double same_id_ratio = 0;  ///< vs the smaller vocabulary
  std::size_t longest_same_id_run = 0;
  std::int64_t longest_same_id_run_start = 0;
  std::size_t prefix_identity = 0;  ///< largest k with identical (id, bytes) for ids 0..k-1
  std::int64_t best_offset = 0;     ///< most common id_B - id_A over shared tokens
  std::size_t best_offset_count = 0;
  std::size_t best_offset_run = 0;  ///< longest run of consecutive A ids at that offset
  std::size_t merges_a = 0, merges_b = 0, shared_merges = 0;
  double merge_rank_spearman = 0;  ///< rank agreement of shared merges (NaN if < 2)
  std::size_t merge_common_prefix = 0;
  std::size_t merge_first1000_exact = 0;
  std::size_t added_a = 0, added_b = 0, shared_added = 0;
  /// identical, extended (B extends A), extended (A extends B), reordered, partial_overlap, independent
  std::string classification;
  std::string rule;          ///< the rule that fired, with its numbers
  std::string kver_context;  ///< METHODS §7.2 overlap heuristic, as context only
};

[[nodiscard]] TokenizerComparison compare_tokenizers(const io::TokenizerFile& a, const io::TokenizerFile& b);

}  // namespace lineage::stages
