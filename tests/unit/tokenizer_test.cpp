#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/errors.hpp"
#include "core/utf8.hpp"
#include "io/tokenizer_file.hpp"
#include "stages/tokenizer/compare_tokenizers.hpp"
#include "stages/tokenizer/token_bytes.hpp"
#include "support/files.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"

namespace lineage::stages {
namespace {

const std::filesystem::path kTok = std::string(LINEAGE_TEST_DATA_DIR) + "/tokenizers";

TEST(TokenizerBytes, Gpt2AlphabetDecodesEveryByte) {
  // GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to 256, 257, ...
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const std::uint32_t cp = printable ? static_cast<std::uint32_t>(b) : 256u + static_cast<std::uint32_t>(extra++);
    EXPECT_EQ(token_bytes(utf8_encode(cp), io::TokenEncoding::byte_level), std::string(1, static_cast<char>(b))) << b;
  }
  EXPECT_EQ(token_bytes("\xC4\xA0the", io::TokenEncoding::byte_level), " the");  // 'Ġthe'
}

TEST(TokenizerBytes, SentencePieceMetaspaceAndByteFallback) {
  EXPECT_EQ(token_bytes("\xE2\x96\x81the", io::TokenEncoding::sentencepiece), " the");
  EXPECT_EQ(token_bytes("<0x0A>", io::TokenEncoding::sentencepiece), "\n");
  EXPECT_EQ(token_bytes("<0xE2>", io::TokenEncoding::sentencepiece), "\xE2");
  EXPECT_EQ(token_bytes("<0xZZ>", io::TokenEncoding::sentencepiece), "<0xZZ>");
}

TEST(TokenizerReal, Llama3ExtendsCl100k) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto llama3 = io::read_tokenizer_file(kTok / "llama3");
  std::printf("llama3 tokenizer.json (9 MB) loaded in %.3f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  const auto cl100k = io::read_tokenizer_file(kTok / "gpt35turbo" / "tokenizer.json");
  EXPECT_EQ(llama3.encoding, io::TokenEncoding::byte_level);
  EXPECT_EQ(llama3.vocab.size(), 128000u);
  EXPECT_EQ(llama3.added.size(), 256u);
  const auto c = compare_tokenizers(cl100k, llama3);
  EXPECT_EQ(c.classification, "extended (B extends A)");
  EXPECT_EQ(c.vocab_a, 100256u);  // cl100k base vocabulary, specials excluded
  EXPECT_EQ(c.same_id, 100256u);  // every cl100k token at the same id in Llama 3
  EXPECT_EQ(c.prefix_identity, 100256u);
  EXPECT_EQ(c.shared_merges, 100000u);
  EXPECT_NEAR(c.merge_rank_spearman, 1.0, 1e-9);  // same merge order, interleaved with new merges
  EXPECT_EQ(compare_tokenizers(llama3, cl100k).classification, "extended (A extends B)");
}

TEST(TokenizerReal, Llama2IsIndependentOfBoth) {
  const auto llama2 = io::read_tokenizer_file(kTok / "llama2");
  EXPECT_EQ(llama2.encoding, io::TokenEncoding::sentencepiece);
  EXPECT_TRUE(llama2.byte_fallback);
  for (const char* other : {"gpt35turbo", "llama3"}) {
    const auto o = io::read_tokenizer_file(kTok / other);
    const auto c = compare_tokenizers(llama2, o);
    EXPECT_EQ(c.classification, "independent") << other << ": " << c.rule;
    EXPECT_LT(c.same_id_ratio, 0.01) << other;
    // Many common subwords exist in both as bytes: overlap alone is not evidence (METHODS §7.2).
    EXPECT_GT(c.overlap_of_smaller, 0.5) << other;
  }
  EXPECT_EQ(compare_tokenizers(llama2, llama2).classification, "identical");
}

nlohmann::json tiny_bpe(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}}},
          {"added_tokens", nlohmann::json::array()}};
}

TEST(TokenizerGenerated, ExtensionReorderAndPairMerges) {
  lineage::testing::TempDir d;
  std::vector<std::string> base;
  for (int i = 0; i < 300; ++i) base.push_back("tok" + std::to_string(i));
  auto ext = base;
  for (int i = 0; i < 40; ++i) ext.push_back("new" + std::to_string(i));
  auto shuffled = base;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  lineage::testing::write_bytes(d.path() / "a.json", tiny_bpe(base, {"t o", "to k"}).dump());
  lineage::testing::write_bytes(d.path() / "b.json", tiny_bpe(ext, {"t o", "to k", "n e"}).dump());
  auto pairs = tiny_bpe(shuffled, {});
  pairs["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"t", "o"})});  // ["a","b"] form
  lineage::testing::write_bytes(d.path() / "c.json", pairs.dump());
  const auto a = io::read_tokenizer_file(d.path() / "a.json");
  const auto b = io::read_tokenizer_file(d.path() / "b.json");
  const auto c = io::read_tokenizer_file(d.path() / "c.json");
  EXPECT_EQ(compare_tokenizers(a, b).classification, "extended (B extends A)");
  EXPECT_EQ(compare_tokenizers(a, b).merge_common_prefix, 2u);
  EXPECT_EQ(compare_tokenizers(a, c).classification, "reordered");
  EXPECT_EQ(c.merges.size(), 1u);
  EXPECT_EQ(compare_tokenizers(a, c).shared_merges, 1u);
}

TEST(TokenizerGenerated, SynthVocabExtensionIsDetected) {
  const auto& suite = lineage::testing::synth_suite();
  const auto base = io::read_tokenizer_file(suite / "base");
  const auto ext = io::read_tokenizer_file(suite / "vocab_extended");
  const auto c = compare_tokenizers(base, ext);
  EXPECT_EQ(c.classification, "extended (B extends A)") << c.rule;
  EXPECT_EQ(compare_tokenizers(base, io::read_tokenizer_file(suite / "finetune")).classification, "identical");
}

TEST(TokenizerOrder, LongestIncreasingSubsequenceAndKendallTau) {
  EXPECT_EQ(longest_increasing_subsequence({}), 0u);
  EXPECT_EQ(longest_increasing_subsequence({5}), 1u);
  EXPECT_EQ(longest_increasing_subsequence({3, 1, 2, 5, 4, 6}), 4u);  // 1 2 5 6 / 1 2 4 6
  EXPECT_EQ(longest_increasing_subsequence({2, 2, 2}), 1u);           // strictly increasing
  EXPECT_EQ(longest_increasing_subsequence({5, 4, 3, 2, 1}), 1u);
  EXPECT_NEAR(kendall_tau_of_order({1, 2, 3, 4}), 1.0, 1e-12);
  EXPECT_NEAR(kendall_tau_of_order({4, 3, 2, 1}), -1.0, 1e-12);
  EXPECT_NEAR(kendall_tau_of_order({1, 3, 2, 4}), (5.0 - 1.0) / 6, 1e-12);  // 5 concordant, 1 discordant
  EXPECT_TRUE(std::isnan(kendall_tau_of_order({7})));
  // Vocabulary-sized inputs (260k ids) in O(n log n): ids shifted by insertions keep their
  // order; a random permutation keeps about 2·sqrt(n) of them.
  std::vector<std::int64_t> shifted, shuffled;
  for (std::int64_t i = 0; i < 260000; ++i) shifted.push_back(i + i / 37);
  shuffled = shifted;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(5));
  EXPECT_EQ(longest_increasing_subsequence(shifted), shifted.size());
  EXPECT_NEAR(kendall_tau_of_order(shifted), 1.0, 1e-12);
  EXPECT_LT(longest_increasing_subsequence(shuffled), 3000u);
  EXPECT_NEAR(kendall_tau_of_order(shuffled), 0.0, 0.01);
}

/// A modified copy of a real tokenizer.json, written into `dir`.
std::filesystem::path write_copy(const lineage::testing::TempDir& d, const std::string& name, const nlohmann::json& j) {
  const auto path = d.path() / (name + ".json");
  lineage::testing::write_bytes(path, j.dump());
  return path;
}

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Issue #11: two real tokenizers with the same base tokens at the same ids, differing only in
// added specials and in how the merge list is stored, were classified partial_overlap (the old
// rule demanded equal merge lists for `identical` and then fell through to "≥ 20% same ids").
TEST(TokenizerReal, SameBaseVocabularyIsIdenticalWithSpecialsAndMergesBesideIt) {
  lineage::testing::TempDir d;
  const auto original = read_json(kTok / "gpt35turbo" / "tokenizer.json");
  ASSERT_TRUE(original["model"]["merges"][0].is_string());  // stored as "a b"
  auto copy = original;
  auto& merges = copy["model"]["merges"];
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& m : merges) {  // re-spelled as ["a", "b"] (tokenizers >= 0.20)
    const auto s = m.get<std::string>();
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  merges = pairs;
  std::int64_t next = 0;
  for (const auto& a : copy["added_tokens"]) next = std::max(next, a["id"].get<std::int64_t>() + 1);
  for (const char* special : {"<|im_start|>", "<|im_end|>", "<|reserved_0|>"}) {
    copy["added_tokens"].push_back({{"id", next++}, {"content", special}, {"special", true}});
  }
  const auto a = io::read_tokenizer_file(kTok / "gpt35turbo" / "tokenizer.json");
  const auto respelled = io::read_tokenizer_file(write_copy(d, "respelled", copy));
  auto c = compare_tokenizers(a, respelled);
  EXPECT_EQ(c.classification, "identical") << c.rule;
  EXPECT_EQ(c.shared_merges, 100000u);  // "a b" and ["a", "b"] read as the same pairs
  EXPECT_EQ(c.merge_common_prefix, 100000u);
  ASSERT_EQ(c.differences.size(), 1u);  // only the specials differ
  EXPECT_NE(c.differences[0].find("3 added/special tokens only in B: <|im_start|>"), std::string::npos)
      << c.differences[0];

  // A converter that orders merges of equal standing differently, and drops one: the merge
  // lists are no longer equal. The old rule classified this pair partial_overlap.
  std::swap(merges[500], merges[501]);
  merges.erase(merges.size() - 1);
  const auto reordered_merges = io::read_tokenizer_file(write_copy(d, "merges", copy));
  c = compare_tokenizers(a, reordered_merges);
  EXPECT_EQ(c.same_id, c.vocab_a);
  EXPECT_GE(c.same_id_ratio, 0.2);  // what made the old rule say partial_overlap
  EXPECT_EQ(c.classification, "identical") << c.rule;
  ASSERT_EQ(c.differences.size(), 2u);
  EXPECT_NE(c.differences[1].find("100000 / 99999 merges, 99999 shared, 99998 of them in the same relative order, "
                                  "common prefix 500"),
            std::string::npos)
      << c.differences[1];
}

// Issue #11: a vocabulary that keeps ~99% of another's tokens in the same relative order, with
// new tokens inserted between them (ids shifted), was classified partial_overlap.
TEST(TokenizerReal, TokensInsertedBetweenKeptTokensAreDerivedInserted) {
  lineage::testing::TempDir d;
  const auto original = read_json(kTok / "llama2" / "tokenizer.json");
  std::vector<std::pair<std::int64_t, std::string>> by_id;
  for (auto it = original["model"]["vocab"].begin(); it != original["model"]["vocab"].end(); ++it) {
    by_id.emplace_back(it.value().get<std::int64_t>(), it.key());
  }
  std::sort(by_id.begin(), by_id.end());
  // Ids below 10,000 untouched; above, every 90th token removed and a new token inserted
  // before every third one, which shifts every later id.
  nlohmann::json vocab = nlohmann::json::object();
  std::int64_t next = 0;
  std::size_t removed = 0, inserted = 0;
  for (const auto& [id, tok] : by_id) {
    if (id >= 10000 && id % 90 == 0) {
      ++removed;
      continue;
    }
    if (id >= 10000 && id % 3 == 0) {
      vocab["\xE2\x96\x81zzqnew" + std::to_string(id)] = next++;
      ++inserted;
    }
    vocab[tok] = next++;
  }
  auto copy = original;
  copy["model"]["vocab"] = vocab;
  const auto a = io::read_tokenizer_file(kTok / "llama2");
  const auto b = io::read_tokenizer_file(write_copy(d, "inserted", copy));
  const auto c = compare_tokenizers(a, b);
  EXPECT_GE(c.shared, a.vocab.size() - removed);  // a removed piece may share its bytes with a kept one
  EXPECT_NEAR(c.share_of_a, 0.992, 0.001);
  // Not quite all: SentencePiece pieces that decode to the same bytes ('<0x20>' and '▁') find one
  // id among them, which can sit out of order.
  EXPECT_GE(c.order_fraction, 0.99);
  EXPECT_GT(c.kendall_tau, 0.98);
  // The old rule's inputs: Jaccard below 0.9 (not "reordered") and over 20% same ids -> partial_overlap.
  EXPECT_LT(c.jaccard, 0.9);
  EXPECT_GE(c.same_id_ratio, 0.2);
  EXPECT_EQ(c.classification, "derived_inserted (B from A)") << c.rule;
  EXPECT_NE(c.rule.find("B holds 99.2% of A's tokens, 99.6% of the shared tokens in A's relative order"),
            std::string::npos)
      << c.rule;
  EXPECT_EQ(compare_tokenizers(b, a).classification, "derived_inserted (A from B)");
  EXPECT_GT(inserted, 7000u);
}

// Independently trained vocabularies share subwords, but not in one order: the new rule must not
// turn them into derived ones.
TEST(TokenizerReal, IndependentVocabulariesDoNotKeepTheirOrder) {
  const auto llama2 = io::read_tokenizer_file(kTok / "llama2");
  for (const char* other : {"gpt35turbo", "llama3"}) {
    const auto c = compare_tokenizers(llama2, io::read_tokenizer_file(kTok / other));
    std::printf("llama2 vs %s: %.1f%% of the shared tokens in order, Kendall tau %.3f\n", other, 100 * c.order_fraction,
                c.kendall_tau);
    EXPECT_LT(c.order_fraction, 0.95) << other;
    EXPECT_EQ(c.classification, "independent") << other;
  }
}

TEST(TokenizerFile, BadFilesAreInputErrors) {
  lineage::testing::TempDir d;
  lineage::testing::write_bytes(d.path() / "bad.json", "{\"model\": {\"vocab\": {\"a\": 0,}}}");
  const auto msg = lineage::testing::error_of([&] { (void)io::read_tokenizer_file(d.path() / "bad.json"); });
  EXPECT_NE(msg.find("bad.json: at byte"), std::string::npos) << msg;
  lineage::testing::write_bytes(d.path() / "nomodel.json", "{\"version\": \"1.0\"}");
  EXPECT_THROW((void)io::read_tokenizer_file(d.path() / "nomodel.json"), InputError);
  EXPECT_THROW((void)io::read_tokenizer_file(d.path()), InputError);  // folder without tokenizer.json
}

}  // namespace
}  // namespace lineage::stages
