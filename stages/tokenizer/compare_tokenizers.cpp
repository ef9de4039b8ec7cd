#include "stages/tokenizer/compare_tokenizers.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "stages/tokenizer/token_bytes.hpp"

namespace lineage::stages {
namespace {

const char* encoding_name(io::TokenEncoding e) {
  switch (e) {
    case io::TokenEncoding::byte_level:
      return "byte-level (GPT-2 alphabet)";
    case io::TokenEncoding::sentencepiece:
      return "SentencePiece style (metaspace, byte fallback)";
    case io::TokenEncoding::plain:
      return "plain text";
  }
  return "?";
}

std::string pct(double x) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << 100 * x << "%";
  return o.str();
}

/// Spearman rank correlation of paired ranks (no ties: ranks are distinct positions).
double spearman(const std::vector<std::pair<std::size_t, std::size_t>>& pairs) {
  const auto n = pairs.size();
  if (n < 2) return std::nan("");
  auto ranks = [&](bool second) {
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < n; ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](auto x, auto y) {
      return second ? pairs[x].second < pairs[y].second : pairs[x].first < pairs[y].first;
    });
    std::vector<double> r(n);
    for (std::size_t k = 0; k < n; ++k) r[idx[k]] = static_cast<double>(k);
    return r;
  };
  const auto ra = ranks(false), rb = ranks(true);
  double d2 = 0;
  for (std::size_t i = 0; i < n; ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  const double nn = static_cast<double>(n);
  return 1.0 - 6.0 * d2 / (nn * (nn * nn - 1.0));
}

}  // namespace

TokenizerComparison compare_tokenizers(const io::TokenizerFile& a, const io::TokenizerFile& b) {
  TokenizerComparison c;
  c.type_a = a.model_type;
  c.type_b = b.model_type;
  c.encoding_a = encoding_name(a.encoding);
  c.encoding_b = encoding_name(b.encoding);
  c.vocab_a = a.vocab.size();
  c.vocab_b = b.vocab.size();
  // Bytes of every token, by id.
  std::unordered_map<std::string, std::int64_t> id_b;
  id_b.reserve(b.vocab.size());
  std::map<std::int64_t, std::string> bytes_b;
  for (const auto& [id, tok] : b.vocab) {
    auto bytes = token_bytes(tok, b.encoding);
    id_b.emplace(bytes, id);
    bytes_b.emplace(id, std::move(bytes));
  }
  std::map<std::int64_t, std::size_t> offsets;
  std::vector<std::pair<std::int64_t, std::int64_t>> shared_ids;  // (id_a, id_b), by id_a
  bool prefix_open = true;
  std::int64_t expect = 0;
  std::size_t run = 0;
  std::int64_t run_start = 0;
  for (const auto& [ia, tok] : a.vocab) {
    const auto bytes = token_bytes(tok, a.encoding);
    const auto it = id_b.find(bytes);
    // Compare by id, not through the bytes -> id map: distinct pieces can decode to the same bytes
    // (SentencePiece '<0x20>' and '▁' are both a space).
    const auto at = bytes_b.find(ia);
    const bool same = at != bytes_b.end() && at->second == bytes;
    if (prefix_open && ia == expect && same) {
      c.prefix_identity = static_cast<std::size_t>(ia + 1);
    } else {
      prefix_open = false;
    }
    ++expect;
    if (same) {
      if (run == 0) run_start = ia;
      ++run;
      if (run > c.longest_same_id_run) {
        c.longest_same_id_run = run;
        c.longest_same_id_run_start = run_start;
      }
    } else {
      run = 0;
    }
    if (it == id_b.end()) continue;
    ++c.shared;
    c.same_id += same ? 1 : 0;
    ++offsets[it->second - ia];
    shared_ids.emplace_back(ia, it->second);
  }
  for (const auto& [off, n] : offsets) {
    if (n > c.best_offset_count) {
      c.best_offset_count = n;
      c.best_offset = off;
    }
  }
  {  // longest run of consecutive A ids that sit at the best offset
    std::size_t r = 0;
    std::int64_t prev = -2;
    for (const auto& [ia, ib] : shared_ids) {
      if (ib - ia == c.best_offset) {
        r = (ia == prev + 1) ? r + 1 : 1;
        prev = ia;
        c.best_offset_run = std::max(c.best_offset_run, r);
      }
    }
  }
  const double na = static_cast<double>(c.vocab_a), nb = static_cast<double>(c.vocab_b);
  const double smaller = std::max(1.0, std::min(na, nb));
  c.jaccard = static_cast<double>(c.shared) / std::max(1.0, na + nb - static_cast<double>(c.shared));
  c.share_of_a = na > 0 ? static_cast<double>(c.shared) / na : 0;
  c.share_of_b = nb > 0 ? static_cast<double>(c.shared) / nb : 0;
  c.overlap_of_smaller = static_cast<double>(c.shared) / smaller;
  c.same_id_ratio = static_cast<double>(c.same_id) / smaller;

  // Merges as byte-string pairs.
  c.merges_a = a.merges.size();
  c.merges_b = b.merges.size();
  std::unordered_map<std::string, std::size_t> rank_b;
  rank_b.reserve(b.merges.size());
  std::vector<std::string> keys_b;
  for (std::size_t i = 0; i < b.merges.size(); ++i) {
    auto k = token_bytes(b.merges[i].first, b.encoding) + '\0' + token_bytes(b.merges[i].second, b.encoding);
    rank_b.emplace(k, i);
    keys_b.push_back(std::move(k));
  }
  std::vector<std::pair<std::size_t, std::size_t>> merge_ranks;
  bool merge_prefix = true;
  for (std::size_t i = 0; i < a.merges.size(); ++i) {
    const auto k = token_bytes(a.merges[i].first, a.encoding) + '\0' + token_bytes(a.merges[i].second, a.encoding);
    if (merge_prefix && i < keys_b.size() && keys_b[i] == k) {
      c.merge_common_prefix = i + 1;
    } else {
      merge_prefix = false;
    }
    if (i < 1000 && i < keys_b.size() && keys_b[i] == k) ++c.merge_first1000_exact;
    const auto it = rank_b.find(k);
    if (it != rank_b.end()) merge_ranks.emplace_back(i, it->second);
  }
  c.shared_merges = merge_ranks.size();
  c.merge_rank_spearman = spearman(merge_ranks);

  c.added_a = a.added.size();
  c.added_b = b.added.size();
  std::unordered_set<std::string> added_a;
  for (const auto& t : a.added) added_a.insert(t.content);
  for (const auto& t : b.added) c.shared_added += added_a.count(t.content);

  // Classification, first rule that fits.
  const bool all_a_kept = c.same_id == c.vocab_a && c.vocab_a > 0;
  const bool all_b_kept = c.same_id == c.vocab_b && c.vocab_b > 0;
  const bool merges_equal = c.merge_common_prefix == c.merges_a && c.merges_a == c.merges_b;
  if (all_a_kept && all_b_kept && merges_equal) {
    c.classification = "identical";
    c.rule = "every token has the same bytes at the same id in both, and the merge lists are equal";
  } else if (all_a_kept && c.vocab_b > c.vocab_a) {
    c.classification = "extended (B extends A)";
    c.rule = "all " + std::to_string(c.vocab_a) + " tokens of A keep their ids in B, which adds " +
             std::to_string(c.vocab_b - c.vocab_a) + "; merges: " + std::to_string(c.merge_common_prefix) + " of A's " +
             std::to_string(c.merges_a) + " are B's first merges";
  } else if (all_b_kept && c.vocab_a > c.vocab_b) {
    c.classification = "extended (A extends B)";
    c.rule = "all " + std::to_string(c.vocab_b) + " tokens of B keep their ids in A, which adds " +
             std::to_string(c.vocab_a - c.vocab_b);
  } else if (c.jaccard >= 0.9 && c.same_id_ratio < 0.9) {
    // Both sides hold (nearly) the same token set: a larger vocabulary merely containing a
    // smaller one's common subwords is not a reordering (Llama 3 holds 91% of Llama 2's tokens).
    c.classification = "reordered";
    c.rule =
        "Jaccard " + pct(c.jaccard) + ": nearly the same tokens, but only " + pct(c.same_id_ratio) + " keep their id";
  } else if (c.same_id_ratio >= 0.2 || c.best_offset_run >= 1000) {
    c.classification = "partial_overlap";
    c.rule = pct(c.same_id_ratio) + " same-id tokens; longest run at offset " + std::to_string(c.best_offset) + ": " +
             std::to_string(c.best_offset_run) + " tokens";
  } else {
    c.classification = "independent";
    c.rule = pct(c.overlap_of_smaller) + " of the smaller vocabulary shared as bytes, but only " +
             std::to_string(c.same_id) + " tokens (" + pct(c.same_id_ratio) +
             ") at the same id and the longest run at "
             "any constant offset is " +
             std::to_string(c.best_offset_run) + " tokens";
  }
  c.kver_context = c.overlap_of_smaller > 0.98   ? "overlap > 98% (KVER: suggests fine-tuning)"
                   : c.overlap_of_smaller >= 0.9 ? "overlap 90-98% (KVER: continued pre-training or extension)"
                                                 : "overlap < 90% (KVER: supports a newly trained tokenizer)";
  return c;
}

}  // namespace lineage::stages
