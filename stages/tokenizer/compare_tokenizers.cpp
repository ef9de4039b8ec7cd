#include "stages/tokenizer/compare_tokenizers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "stages/tokenizer/token_bytes.hpp"

namespace lineage::stages {
namespace {

/// derived_inserted: at least this share of the origin's tokens reappears (as bytes) ...
constexpr double kDerivedShare = 0.9;
/// ... and at least this share of the shared tokens keeps its relative order (LIS / shared).
constexpr double kDerivedOrder = 0.95;

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

/// Strict inversions (i < j, v[i] > v[j]) of v[lo, hi), sorting it; merge sort.
std::uint64_t inversions(std::vector<std::int64_t>& v, std::vector<std::int64_t>& tmp, std::size_t lo, std::size_t hi) {
  if (hi - lo < 2) return 0;
  const std::size_t mid = lo + (hi - lo) / 2;
  std::uint64_t n = inversions(v, tmp, lo, mid) + inversions(v, tmp, mid, hi);
  std::size_t i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (v[j] < v[i]) {
      n += mid - i;  // v[j] is smaller than every remaining left value
      tmp[k++] = v[j++];
    } else {
      tmp[k++] = v[i++];
    }
  }
  while (i < mid) tmp[k++] = v[i++];
  while (j < hi) tmp[k++] = v[j++];
  std::copy(tmp.begin() + static_cast<std::ptrdiff_t>(lo), tmp.begin() + static_cast<std::ptrdiff_t>(hi),
            v.begin() + static_cast<std::ptrdiff_t>(lo));
  return n;
}

std::string list_some(const std::vector<std::string>& items, std::size_t most = 5) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < most; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > most) out += ", ... (" + std::to_string(items.size() - most) + " more)";
  return out;
}

}  // namespace

std::size_t longest_increasing_subsequence(const std::vector<std::int64_t>& values) {
  // Patience sorting: tails[k] is the smallest last value of an increasing subsequence of length k+1.
  std::vector<std::int64_t> tails;
  for (const auto v : values) {
    const auto it = std::lower_bound(tails.begin(), tails.end(), v);
    if (it == tails.end()) {
      tails.push_back(v);
    } else {
      *it = v;
    }
  }
  return tails.size();
}

double kendall_tau_of_order(const std::vector<std::int64_t>& values) {
  const auto n = values.size();
  if (n < 2) return std::nan("");
  auto v = values;
  std::vector<std::int64_t> tmp(n);
  const auto discordant = static_cast<double>(inversions(v, tmp, 0, n));  // v is now sorted
  double ties = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && v[j] == v[i]) ++j;
    const auto c = static_cast<double>(j - i);
    ties += c * (c - 1) / 2;
    i = j;
  }
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  const double concordant = pairs - discordant - ties;
  return (concordant - discordant) / pairs;
}

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
  {  // relative order of the shared tokens: B's ids read in A's id order
    std::vector<std::int64_t> ids_b;
    ids_b.reserve(shared_ids.size());
    for (const auto& [ia, ib] : shared_ids) ids_b.push_back(ib);
    c.shared_in_order = longest_increasing_subsequence(ids_b);
    c.order_fraction = ids_b.empty() ? 0 : static_cast<double>(c.shared_in_order) / static_cast<double>(ids_b.size());
    c.kendall_tau = kendall_tau_of_order(ids_b);
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
  {
    std::vector<std::int64_t> ranks_b;
    ranks_b.reserve(merge_ranks.size());
    for (const auto& [ra, rb] : merge_ranks) ranks_b.push_back(static_cast<std::int64_t>(rb));
    c.merges_in_order = longest_increasing_subsequence(ranks_b);
  }

  c.added_a = a.added.size();
  c.added_b = b.added.size();
  std::unordered_map<std::string, std::int64_t> added_a;
  for (const auto& t : a.added) added_a.emplace(t.content, t.id);
  std::unordered_set<std::string> added_b;
  std::vector<std::string> only_b, moved;
  for (const auto& t : b.added) {
    added_b.insert(t.content);
    const auto it = added_a.find(t.content);
    if (it == added_a.end()) {
      only_b.push_back(t.content + " (" + std::to_string(t.id) + ")");
      continue;
    }
    ++c.shared_added;
    if (it->second == t.id) {
      ++c.shared_added_same_id;
    } else {
      moved.push_back(t.content + " (" + std::to_string(it->second) + " -> " + std::to_string(t.id) + ")");
    }
  }
  std::vector<std::string> only_a;
  for (const auto& t : a.added) {
    if (!added_b.count(t.content)) only_a.push_back(t.content + " (" + std::to_string(t.id) + ")");
  }

  // Beside the base vocabulary: added/special tokens and the merge list (as byte pairs).
  if (!only_a.empty()) {
    c.differences.push_back(std::to_string(only_a.size()) + " added/special tokens only in A: " + list_some(only_a));
  }
  if (!only_b.empty()) {
    c.differences.push_back(std::to_string(only_b.size()) + " added/special tokens only in B: " + list_some(only_b));
  }
  if (!moved.empty()) {
    c.differences.push_back(std::to_string(moved.size()) + " added/special tokens at another id: " + list_some(moved));
  }
  const bool merges_equal = c.merge_common_prefix == c.merges_a && c.merges_a == c.merges_b;
  if (!merges_equal) {
    std::string m =
        "merge lists differ (compared as byte pairs, whatever their JSON spelling): " + std::to_string(c.merges_a) +
        " / " + std::to_string(c.merges_b) + " merges, " + std::to_string(c.shared_merges) + " shared, " +
        std::to_string(c.merges_in_order) + " of them in the same relative order, common prefix " +
        std::to_string(c.merge_common_prefix);
    c.differences.push_back(std::move(m));
  }

  // Classification, first rule that fits.
  const bool all_a_kept = c.same_id == c.vocab_a && c.vocab_a > 0;
  const bool all_b_kept = c.same_id == c.vocab_b && c.vocab_b > 0;
  // The side whose tokens reappear in the other (the origin of a derived vocabulary).
  const bool a_is_origin = c.share_of_a >= c.share_of_b;
  const double origin_share = a_is_origin ? c.share_of_a : c.share_of_b;
  if (all_a_kept && all_b_kept) {
    // Identity is a property of the base vocabulary: specials and the merge list (a converter
    // may store or order it differently) are reported beside it, not folded into the class.
    c.classification = "identical";
    c.rule = "all " + std::to_string(c.vocab_a) + " base tokens have the same bytes at the same id in both" +
             (c.differences.empty() ? "; added tokens and merge lists are equal"
                                    : "; differences beside the base vocabulary are listed below");
  } else if (all_a_kept && c.vocab_b > c.vocab_a) {
    c.classification = "extended (B extends A)";
    c.rule = "all " + std::to_string(c.vocab_a) + " tokens of A keep their ids in B, which adds " +
             std::to_string(c.vocab_b - c.vocab_a) + "; merges: " + std::to_string(c.merge_common_prefix) + " of A's " +
             std::to_string(c.merges_a) + " are B's first merges";
  } else if (all_b_kept && c.vocab_a > c.vocab_b) {
    c.classification = "extended (A extends B)";
    c.rule = "all " + std::to_string(c.vocab_b) + " tokens of B keep their ids in A, which adds " +
             std::to_string(c.vocab_a - c.vocab_b);
  } else if (origin_share >= kDerivedShare && c.order_fraction >= kDerivedOrder) {
    // Most of one vocabulary reappears in the other in the same relative order, with tokens
    // inserted between (ids shifted) or a few removed: a vocabulary edited from the other, not
    // an independently trained one (whose shared subwords come in another order).
    c.classification = a_is_origin ? "derived_inserted (B from A)" : "derived_inserted (A from B)";
    const std::string origin = a_is_origin ? "A" : "B", other = a_is_origin ? "B" : "A";
    char tau[32];
    std::snprintf(tau, sizeof tau, "%.4f", c.kendall_tau);
    c.rule = other + " holds " + pct(origin_share) + " of " + origin + "'s tokens, " + pct(c.order_fraction) +
             " of the shared tokens in " + origin + "'s relative order (longest increasing subsequence " +
             std::to_string(c.shared_in_order) + " of " + std::to_string(c.shared) + ", Kendall tau " + tau +
             "), with " + std::to_string((a_is_origin ? c.vocab_b : c.vocab_a) - c.shared) + " tokens of its own; " +
             pct(c.same_id_ratio) + " keep their id";
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
