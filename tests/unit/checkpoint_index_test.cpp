// The one-pass index reader against the JSON DOM reading it replaced (kept here as the oracle):
// on generated indexes, valid and broken, both give the same entries and totals or refuse with
// the same message.
#include "io/checkpoint_index.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/json_text.hpp"

namespace lineage::io {
namespace {

/// What list_checkpoint read from the index before the one-pass reader.
CheckpointIndex dom_reading(std::string_view text, const std::string& where) {
  const nlohmann::json index = parse_json_text(text, where);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw InputError(where, "no weight_map object");
  }
  CheckpointIndex out;
  out.where = where;
  if (index.contains("metadata") && index["metadata"].is_object()) {
    const auto& m = index["metadata"];
    auto number = [&](const char* key) -> std::optional<std::uint64_t> {
      if (!m.contains(key)) return std::nullopt;
      if (m[key].is_number_unsigned()) return m[key].get<std::uint64_t>();
      if (m[key].is_string()) {
        try {
          return std::stoull(m[key].get<std::string>());
        } catch (...) {
          return std::nullopt;
        }
      }
      return std::nullopt;
    };
    out.total_size = number("total_size");
    out.total_parameters = number("total_parameters");
  }
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    out.entries.emplace_back(it.key(),
                             it.value().is_string() ? std::optional(it.value().get<std::string>()) : std::nullopt);
  }
  return out;
}

class IndexGenerator {
 public:
  explicit IndexGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string next() {
    if (chance(0.03)) return junk(2);
    std::string out = "{";
    const int members = pick(0, 4);
    for (int i = 0; i < members; ++i) {
      if (i) out += ",";
      const int which = pick(0, 9);
      if (which < 5) {
        out += "\"weight_map\":" + (chance(0.05) ? junk(2) : weight_map());
      } else if (which < 8) {
        out += "\"metadata\":" + (chance(0.05) ? junk(2) : metadata());
      } else {
        out += "\"other\":" + junk(3);
      }
    }
    out += "}";
    if (chance(0.03)) out.resize(static_cast<std::size_t>(pick(0, static_cast<int>(out.size()))));
    if (chance(0.02)) out += " x";
    return out;
  }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string junk(int depth) {
    switch (pick(0, depth > 0 ? 9 : 7)) {
      case 0:
        return "null";
      case 1:
        return "true";
      case 2:
        return "-3";
      case 3:
        return "1.5";
      case 4:
        return chance(0.5) ? "1e400" : "18446744073709551616";
      case 5:
        return "\"12\"";
      case 6:
        return std::to_string(pick(0, 100));
      case 7:
        return "\"\"";
      case 8:
        return "[" + junk(depth - 1) + "]";
      default:
        return "{\"k\":" + junk(depth - 1) + "}";
    }
  }

  std::string weight_map() {
    static const std::vector<std::string> names{"a", "b", "c", "lm_head.weight", "model.embed_tokens.weight", "é"};
    std::string out = "{";
    const int n = pick(0, 6);
    for (int i = 0; i < n; ++i) {
      if (i) out += ",";
      const auto& name = names[static_cast<std::size_t>(pick(0, static_cast<int>(names.size()) - 1))];
      out += nlohmann::json(name).dump() + ":" +
             (chance(0.9) ? "\"model-0000" + std::to_string(pick(1, 3)) + ".safetensors\"" : junk(2));
    }
    return out + "}";
  }

  std::string metadata() {
    static const std::vector<std::string> keys{"total_size", "total_parameters", "format"};
    static const std::vector<std::string> values{
        "123", "\"456\"", "\" 7\"", "\"-5\"", "\"x\"", "\"99999999999999999999\"", "1.5", "-2", "18446744073709551615"};
    std::string out = "{";
    const int n = pick(0, 4);
    for (int i = 0; i < n; ++i) {
      if (i) out += ",";
      out += nlohmann::json(keys[static_cast<std::size_t>(pick(0, 2))]).dump() + ":" +
             (chance(0.9) ? values[static_cast<std::size_t>(pick(0, static_cast<int>(values.size()) - 1))] : junk(2));
    }
    return out + "}";
  }

  std::mt19937_64 rng_;
};

template <class F>
std::string outcome(F&& read, CheckpointIndex& out) {
  try {
    out = read();
    return "ok";
  } catch (const InputError& e) {
    return e.what();
  }
}

TEST(CheckpointIndex, OnePassReaderAgreesWithTheDomReadingOnGeneratedIndexes) {
  IndexGenerator generator(20261203);
  int accepted = 0, refused = 0, with_totals = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto text = generator.next();
    CheckpointIndex expected, got;
    const auto want = outcome([&] { return dom_reading(text, "x/model.safetensors.index.json"); }, expected);
    const auto have = outcome([&] { return parse_checkpoint_index(text, "x/model.safetensors.index.json"); }, got);
    ASSERT_EQ(have, want) << text;
    if (want != "ok") {
      ++refused;
      continue;
    }
    ++accepted;
    with_totals += expected.total_size.has_value();
    ASSERT_EQ(got.where, expected.where);
    ASSERT_EQ(got.entries, expected.entries) << text;
    ASSERT_EQ(got.total_size, expected.total_size) << text;
    ASSERT_EQ(got.total_parameters, expected.total_parameters) << text;
  }
  EXPECT_GT(accepted, 2000);
  EXPECT_GT(refused, 2000);
  EXPECT_GT(with_totals, 500);
}

TEST(CheckpointIndex, TooDeepNestingIsRefusedBeforeParsing) {
  const std::string deep = "{\"weight_map\":{}, \"x\":" + std::string(100, '[') + std::string(100, ']') + "}";
  const auto message = [&] {
    try {
      (void)parse_checkpoint_index(deep, "i.json");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(message.find("nested deeper than"), std::string::npos) << message;
}

}  // namespace
}  // namespace lineage::io
