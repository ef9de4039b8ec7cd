// The plain-JSON reader against nlohmann's SAX parse (its oracle): on every text it reads, the
// same events in the same order; on every text it declines, nothing promised (the callers read
// it again through nlohmann).
#include "io/plain_json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/sax_event_log.hpp"

namespace lineage::io {
namespace {

using Events = lineage::testing::SaxEventLog;

/// Reads `text` both ways; true when the plain reader read it (and then gave nlohmann's events).
bool read_alike(const std::string& text) {
  Events plain, oracle;
  if (!sax_parse_plain_json(text, plain)) return false;
  EXPECT_TRUE(nlohmann::json::sax_parse(text, &oracle)) << "plain read what nlohmann refuses: " << text;
  EXPECT_EQ(plain.log, oracle.log) << text;
  return true;
}

TEST(PlainJson, ReadsASafetensorsHeaderAndAnIndexAsNlohmannDoes) {
  EXPECT_TRUE(read_alike(
      R"({"__metadata__":{"format":"pt"},"model.embed_tokens.weight":{"dtype":"BF16","shape":[32000,4096],)"
      R"("data_offsets":[0,262144000]}, "lm_head.weight" : { "dtype" : "F32", "shape" : [ ], "data_offsets" : [ 262144000 , 262144004 ] } })"));
  EXPECT_TRUE(
      read_alike("{\n  \"metadata\": {\"total_size\": 18446744073709551},\n  \"weight_map\": {\r\n\t\"a.weight\": "
                 "\"model-00001-of-00002.safetensors\",\n    \"b\": \"model-00002-of-00002.safetensors\"\n  }\n}\n"));
  EXPECT_TRUE(read_alike(R"([true,false,null,0,9999999999999999999,"",{},[],[[]],{"":{}}])"));
  EXPECT_TRUE(read_alike("7"));
  EXPECT_TRUE(read_alike(" \"text\" "));
}

TEST(PlainJson, DeclinesWhatItDoesNotRead) {
  for (const std::string text : {
           "",
           "   ",
           R"({"a\"b":1})",                 // an escape
           R"({"\u00e9":1})",               // an escape
           "{\"\xc3\xa9\":1}",              // a byte outside ASCII
           "{\"a\tb\":1}",                  // a control byte
           "{\"a\":-1}",                    // negative
           "{\"a\":1.5}",                   // fraction
           "{\"a\":1e3}",                   // exponent
           "{\"a\":01}",                    // a leading zero
           "{\"a\":18446744073709551615}",  // 20 digits
           "{\"a\":1,}",                    // a trailing comma
           "{\"a\" 1}",                     // no colon
           "{\"a\":1",                      // unclosed
           "[1 2]",                         // no comma
           "{\"a\":1}}",                    // one close too many
           "{\"a\":1} x",                   // trailing text
           "\xef\xbb\xbf{}",                // a byte-order mark (nlohmann skips it)
           "{\"a\":tru}",
           "{\"a\":nul}",
           "{1:2}",
           "{\"a\":1]",
           "[1}",
       }) {
    Events events;
    EXPECT_FALSE(sax_parse_plain_json(text, events)) << text;
  }
}

TEST(PlainJson, ReadsWhatNlohmannReadsAtTheEdges) {
  EXPECT_TRUE(read_alike("{\"a\x7f\":\"\x7f\"}"));  // DEL is printable ASCII to both
  EXPECT_TRUE(read_alike("[0,1,10,9999999999999999999]"));
  EXPECT_TRUE(read_alike(" \r\n\t[ ] "));
  // Declined, though nlohmann reads the first (it ends the text at a NUL byte).
  for (const std::string& text : {std::string("{}\0x", 4), std::string("{\"a\0b\":1}", 9), std::string("[1x]"),
                                  std::string("1x"), std::string("truex"), std::string("[01]"), std::string("[1 ,]")}) {
    Events events;
    EXPECT_FALSE(sax_parse_plain_json(text, events)) << text;
  }
}

TEST(PlainJson, AReaderThatStopsEndsTheReading) {
  struct StopAtKey : Events {
    bool key(string_t&) override { return false; }
  } stop_at_key;
  EXPECT_FALSE(sax_parse_plain_json(R"({"a":1})", stop_at_key));
  struct StopAtObject : Events {
    bool start_object(std::size_t) override { return false; }
  } stop_at_object;
  EXPECT_FALSE(sax_parse_plain_json(R"([{"a":1}])", stop_at_object));
  struct StopAtArrayEnd : Events {
    bool end_array() override { return false; }
  } stop_at_array_end;
  EXPECT_FALSE(sax_parse_plain_json("[[]]", stop_at_array_end));
  EXPECT_FALSE(sax_parse_plain_json("[[1]]", stop_at_array_end));
  struct StopAtNumber : Events {
    bool number_unsigned(number_unsigned_t) override { return false; }
  } stop_at_number;
  EXPECT_FALSE(sax_parse_plain_json("[1]", stop_at_number));
  Events reads_all;
  EXPECT_TRUE(sax_parse_plain_json(R"([{"a":[1]},[]])", reads_all));
}

TEST(PlainJson, DeepNestingNeedsNoStack) {
  // Read in a loop, not by recursion: 200,000 levels would overflow a recursive reader's stack.
  const std::size_t depth = 200'000;
  const std::string text = std::string(depth, '[') + "1" + std::string(depth, ']');
  Events events;
  ASSERT_TRUE(sax_parse_plain_json(text, events));
  EXPECT_EQ(events.log.size(), 2 * depth + 1);
  EXPECT_EQ(events.log[depth], "uint 1");
}

/// Random texts near the JSON of headers and indexes, then byte-level damage to some of them.
class TextGenerator {
 public:
  explicit TextGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string next() {
    std::string text = value(4);
    const int damage = pick(0, 3) == 0 ? pick(1, 3) : 0;
    static const std::string alphabet = "{}[]:,\" \n01-.eE\\tfnux\xc3\xa9";
    for (int i = 0; i < damage && !text.empty(); ++i) {
      const auto at = static_cast<std::size_t>(pick(0, static_cast<int>(text.size()) - 1));
      const char c = alphabet[static_cast<std::size_t>(pick(0, static_cast<int>(alphabet.size()) - 1))];
      switch (pick(0, 2)) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(at, 1, c);
          break;
        default:
          text.erase(at, 1);
      }
    }
    return text;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string space() {
    static const std::vector<std::string> spaces{"", "", "", " ", "\n  ", "\t", "\r\n"};
    return spaces[static_cast<std::size_t>(pick(0, static_cast<int>(spaces.size()) - 1))];
  }

  std::string text() {
    static const std::vector<std::string> texts{
        "",    "dtype",  "BF16",    "model.layers.0.mlp.experts.3.w1.weight", "shape", "data_offsets", "__metadata__",
        "a b", "x\\\"y", "\xc3\xa9"};
    return "\"" + texts[static_cast<std::size_t>(pick(0, static_cast<int>(texts.size()) - 1))] + "\"";
  }

  std::string value(int depth) {
    switch (pick(0, depth > 0 ? 9 : 5)) {
      case 0:
        return text();
      case 1:
        return std::to_string(std::uniform_int_distribution<std::uint64_t>()(rng_) >> pick(0, 63));
      case 2: {
        static const std::vector<std::string> others{"true", "false", "null", "-3", "0.5", "1e9", "0"};
        return others[static_cast<std::size_t>(pick(0, static_cast<int>(others.size()) - 1))];
      }
      case 3:
      case 4:
      case 5:
        return text();
      case 6:
      case 7: {
        std::string out = "[" + space();
        const int n = pick(0, 4);
        for (int i = 0; i < n; ++i) out += (i ? "," + space() : "") + value(depth - 1) + space();
        return out + "]";
      }
      default: {
        std::string out = "{" + space();
        const int n = pick(0, 4);
        for (int i = 0; i < n; ++i)
          out += (i ? "," + space() : "") + text() + space() + ":" + space() + value(depth - 1);
        return out + space() + "}";
      }
    }
  }

  std::mt19937_64 rng_;
};

TEST(PlainJson, GivesNlohmannsEventsOnEveryGeneratedTextItReads) {
  TextGenerator generator(20261203);
  int read = 0, declined = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto text = generator.next();
    if (read_alike(text))
      ++read;
    else
      ++declined;
    if (HasFailure()) break;
  }
  // Both outcomes were exercised in earnest.
  EXPECT_GT(read, 5000);
  EXPECT_GT(declined, 2000);
}

}  // namespace
}  // namespace lineage::io
