#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "core/errors.hpp"
#include "io/tokenizer_file.hpp"
#include "stages/tokenizer/compare_tokenizers.hpp"
#include "stages/tokenizer/token_bytes.hpp"
#include "support/files.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"

namespace lineage::stages {
namespace {

const std::filesystem::path kTok = std::string(LINEAGE_TEST_DATA_DIR) + "/tokenizers";

std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(TokenizerBytes, Gpt2AlphabetDecodesEveryByte) {
  // GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to 256, 257, ...
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const std::uint32_t cp = printable ? static_cast<std::uint32_t>(b) : 256u + static_cast<std::uint32_t>(extra++);
    EXPECT_EQ(token_bytes(utf8(cp), io::TokenEncoding::byte_level), std::string(1, static_cast<char>(b))) << b;
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
