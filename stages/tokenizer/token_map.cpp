#include "stages/tokenizer/token_map.hpp"

#include <xxhash.h>

#include <algorithm>
#include <string>
#include <unordered_map>

#include "stages/tokenizer/token_bytes.hpp"

namespace lineage::stages {
namespace {

/// bytes -> id of one vocabulary; byte strings held by several ids map to -1 (ambiguous).
std::unordered_map<std::string, std::int64_t> ids_by_bytes(const io::TokenizerFile& t, std::size_t& ambiguous) {
  std::unordered_map<std::string, std::int64_t> out;
  out.reserve(t.vocab.size());
  for (const auto& [id, token] : t.vocab) {
    auto [it, inserted] = out.emplace(token_bytes(token, t.encoding), id);
    if (!inserted && it->second >= 0) {
      it->second = -1;
      ++ambiguous;
    }
  }
  return out;
}

}  // namespace

TokenMap map_tokens(const io::TokenizerFile& a, const io::TokenizerFile& b) {
  TokenMap m;
  m.vocab_a = a.vocab.size();
  m.vocab_b = b.vocab.size();
  std::size_t ambiguous_b = 0;
  const auto in_b = ids_by_bytes(b, ambiguous_b);
  std::size_t ambiguous_a = 0;
  const auto in_a = ids_by_bytes(a, ambiguous_a);
  m.ambiguous = ambiguous_a + ambiguous_b;
  for (const auto& [bytes, id_a] : in_a) {
    if (id_a < 0) continue;
    const auto it = in_b.find(bytes);
    if (it == in_b.end() || it->second < 0) continue;
    m.pairs.push_back({id_a, it->second, XXH3_64bits(bytes.data(), bytes.size())});
    m.same_id += id_a == it->second ? 1 : 0;
  }
  std::sort(m.pairs.begin(), m.pairs.end(), [](const TokenPair& x, const TokenPair& y) { return x.id_a < y.id_a; });
  return m;
}

std::vector<TokenPair> sample_token_pairs(const TokenMap& map, std::uint64_t rows_a, std::uint64_t rows_b,
                                          std::size_t max_pairs, std::uint64_t seed) {
  std::vector<std::pair<std::uint64_t, TokenPair>> keyed;
  keyed.reserve(map.pairs.size());
  for (const auto& p : map.pairs) {
    if (p.id_a < 0 || p.id_b < 0 || static_cast<std::uint64_t>(p.id_a) >= rows_a ||
        static_cast<std::uint64_t>(p.id_b) >= rows_b)
      continue;
    const std::uint64_t key[2] = {p.bytes_hash, seed};
    keyed.emplace_back(XXH3_64bits(key, sizeof key), p);
  }
  if (keyed.size() > max_pairs) {
    std::nth_element(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(max_pairs), keyed.end(),
                     [](const auto& x, const auto& y) {
                       return x.first != y.first ? x.first < y.first : x.second.id_a < y.second.id_a;
                     });
    keyed.resize(max_pairs);
  }
  std::vector<TokenPair> out;
  out.reserve(keyed.size());
  for (const auto& [k, p] : keyed) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const TokenPair& x, const TokenPair& y) { return x.id_a < y.id_a; });
  return out;
}

}  // namespace lineage::stages
