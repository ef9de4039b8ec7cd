#pragma once
/// @file compare_tokenizers.hpp
/// Tokenizer evidence (METHODS §7.2) from two tokenizer.json files, every token compared as the
/// bytes it stands for. Says nothing about the transformer body: a new tokenizer on a reused
/// body and a reused tokenizer on a new body both exist.

#include <cstdint>
#include <string>
#include <vector>

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
  /// Order of the shared tokens: the longest increasing subsequence of B's ids taken in A's id
  /// order, as a fraction of the shared tokens (1: every shared token keeps its relative place,
  /// whatever was inserted or removed between them), and Kendall's tau of the two id orders.
  std::size_t shared_in_order = 0;
  double order_fraction = 0;
  double kendall_tau = 0;  ///< NaN if fewer than 2 shared tokens
  std::size_t merges_a = 0, merges_b = 0, shared_merges = 0;
  double merge_rank_spearman = 0;  ///< rank agreement of shared merges (NaN if < 2)
  std::size_t merge_common_prefix = 0;
  std::size_t merge_first1000_exact = 0;
  /// Shared merges whose rank order agrees (merges of A found in B at increasing ranks: LIS).
  std::size_t merges_in_order = 0;
  std::size_t added_a = 0, added_b = 0, shared_added = 0;
  std::size_t shared_added_same_id = 0;  ///< added tokens with the same text at the same id
  /// identical, extended (B extends A), extended (A extends B), derived_inserted (B from A),
  /// derived_inserted (A from B), reordered, partial_overlap, independent
  std::string classification;
  std::string rule;  ///< the rule that fired, with its numbers
  /// What differs beside the base vocabulary: added/special tokens and the merge list (both
  /// compared as text / byte pairs, whatever their JSON spelling). Empty when nothing differs.
  std::vector<std::string> differences;
  std::string kver_context;  ///< METHODS §7.2 overlap heuristic, as context only
};

/// Length of the longest strictly increasing subsequence of `values`, in O(n log n).
[[nodiscard]] std::size_t longest_increasing_subsequence(const std::vector<std::int64_t>& values);

/// Kendall's tau-a between position and value (ties in `values` count as neither concordant nor
/// discordant), from the inversion count by merge sort in O(n log n); NaN for fewer than 2.
[[nodiscard]] double kendall_tau_of_order(const std::vector<std::int64_t>& values);

[[nodiscard]] TokenizerComparison compare_tokenizers(const io::TokenizerFile& a, const io::TokenizerFile& b);

}  // namespace lineage::stages
