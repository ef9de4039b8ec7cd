#include "tools/synth/byte_bpe_tokenizer.hpp"

#include <set>
#include <string>

#include "core/errors.hpp"
#include "core/utf8.hpp"
#include "tools/synth/counter_rng.hpp"

namespace lineage::tools {
namespace {

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n, so every
// byte has a visible, whitespace-free character (what ByteLevel pre-tokenisation expects).
std::vector<std::string> byte_alphabet() {
  std::vector<std::string> out(256);
  std::uint32_t next = 256;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    out[b] = utf8_encode(printable ? b : next++);
  }
  return out;
}

const char* const kSpecials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"};

// Adds BPE tokens until `target` ids exist. Pairs are drawn among the frequent-looking part of
// the vocabulary (letters, space-prefixed letters and earlier merges), like real merge lists.
void add_merges(SynthTokenizer& tok, const CounterRng& rng, std::uint64_t target) {
  std::set<std::string> known(tok.tokens.begin(), tok.tokens.end());
  std::vector<std::string> pool;
  const auto alphabet = byte_alphabet();
  for (char c = 'a'; c <= 'z'; ++c) pool.push_back(alphabet[static_cast<unsigned char>(c)]);
  pool.push_back(alphabet[' ']);
  for (std::size_t i = 256; i < tok.tokens.size(); ++i) {
    if (!tok.special[i]) pool.push_back(tok.tokens[i]);
  }
  std::uint64_t draw = tok.tokens.size() * 1000;
  while (tok.tokens.size() < target) {
    const auto& a = pool[rng.bits(draw++) % pool.size()];
    const auto& b = pool[rng.bits(draw++) % pool.size()];
    std::string merged = a + b;
    if (merged.size() > 12 || known.contains(merged)) continue;
    known.insert(merged);
    tok.merges.emplace_back(a, b);
    tok.tokens.push_back(merged);
    tok.special.push_back(false);
    pool.push_back(std::move(merged));
  }
}

}  // namespace

SynthTokenizer make_byte_bpe_tokenizer(std::uint64_t seed, std::uint64_t vocab_size) {
  constexpr std::uint64_t kSpecialCount = std::size(kSpecials);
  if (vocab_size < 256 + kSpecialCount) {
    throw ConfigError("vocab_size", "synthetic tokenizers need at least 260 ids");
  }
  SynthTokenizer tok;
  tok.tokens = byte_alphabet();
  tok.special.assign(256, false);
  add_merges(tok, CounterRng(seed, "tokenizer.merges"), vocab_size - kSpecialCount);
  for (const char* s : kSpecials) {
    tok.tokens.emplace_back(s);
    tok.special.push_back(true);
  }
  return tok;
}

void extend_tokenizer(SynthTokenizer& tok, std::uint64_t seed, std::uint64_t count) {
  add_merges(tok, CounterRng(seed, "tokenizer.extension"), tok.tokens.size() + count);
}

nlohmann::json tokenizer_json(const SynthTokenizer& tok) {
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json added = nlohmann::json::array();
  for (std::size_t id = 0; id < tok.tokens.size(); ++id) {
    if (tok.special[id]) {
      added.push_back({{"id", id},
                       {"content", tok.tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    }
    vocab[tok.tokens[id]] = id;  // HF keeps specials in the model vocab too
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [a, b] : tok.merges) merges.push_back(nlohmann::json::array({a, b}));
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

nlohmann::json tokenizer_config_json(const SynthTokenizer& tok) {
  nlohmann::json decoder = nlohmann::json::object();
  for (std::size_t id = 0; id < tok.tokens.size(); ++id) {
    if (!tok.special[id]) continue;
    decoder[std::to_string(id)] = {{"content", tok.tokens[id]}, {"lstrip", false},      {"normalized", false},
                                   {"rstrip", false},           {"single_word", false}, {"special", true}};
  }
  return {{"tokenizer_class", "PreTrainedTokenizerFast"},
          {"added_tokens_decoder", decoder},
          {"bos_token", nullptr},
          {"eos_token", "<|endoftext|>"},
          {"pad_token", "<|pad|>"},
          {"unk_token", nullptr},
          {"model_max_length", 512},
          {"clean_up_tokenization_spaces", false}};
}

}  // namespace lineage::tools
