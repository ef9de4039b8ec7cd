// The one-pass header parser against the JSON DOM reading it replaced (kept here as the oracle):
// on generated headers, valid and broken in every field, both accept the same tensors and
// metadata or refuse with the same message.
#include "io/safetensors_header.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/json_text.hpp"

namespace lineage::io {
namespace {

constexpr std::uint64_t kDataStartBase = 8;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& reason, const std::string& tensor = {},
                       std::optional<std::uint64_t> offset = std::nullopt) {
  throw InputError(path.string(), reason, tensor, offset);
}

struct TopLevelKeys : nlohmann::json_sax<nlohmann::json> {
  int depth = 0;
  std::vector<std::string> seen;
  std::string duplicate;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth, true; }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return ++depth, true; }
  bool end_array() override { return --depth, true; }
  bool key(string_t& k) override {
    if (depth == 1 && duplicate.empty()) {
      if (std::find(seen.begin(), seen.end(), k) != seen.end()) duplicate = k;
      seen.push_back(k);
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

/// The DOM reading (lineage before the one-pass parser), for headers no deeper than the limit.
SafetensorsHeader dom_reading(const std::filesystem::path& path, std::string_view json, std::uint64_t file_size) {
  SafetensorsHeader h;
  const std::uint64_t data_start = kDataStartBase + json.size();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "malformed JSON header: " + json_error_without_content(e.what()), {},
         kDataStartBase + (e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::exception&) {
    fail(path, "malformed JSON header: a number too large to represent", {}, kDataStartBase);
  }
  TopLevelKeys keys;
  nlohmann::json::sax_parse(json, &keys);
  if (!keys.duplicate.empty()) fail(path, "duplicate tensor name in header", keys.duplicate, kDataStartBase);
  if (!doc.is_object()) fail(path, "header is not a JSON object", {}, kDataStartBase);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object", {}, kDataStartBase);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value '" + m.key() + "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(path, "entry is not an object", name, kDataStartBase);
    SafetensorsEntry e;
    e.name = name;
    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail(path, "missing dtype", name, kDataStartBase);
    const auto parsed = parse_dtype(dt->get<std::string>());
    if (!parsed) fail(path, "unknown dtype '" + dt->get<std::string>() + "'", name, kDataStartBase);
    e.dtype = *parsed;
    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail(path, "missing or non-list shape", name, kDataStartBase);
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) fail(path, "shape holds a non-integer or negative", name, kDataStartBase);
      e.shape.push_back(d.get<std::uint64_t>());
    }
    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      fail(path, "data_offsets must be [begin, end]", name, kDataStartBase);
    }
    const auto begin = (*off)[0].get<std::uint64_t>();
    const auto end = (*off)[1].get<std::uint64_t>();
    if (begin > end) fail(path, "data_offsets begin > end", name, data_start + begin);
    if (end > file_size - std::min(file_size, data_start)) {
      fail(path,
           "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
               ") run past the end of the file (data section holds " +
               std::to_string(file_size - std::min(file_size, data_start)) + " bytes)",
           name, data_start + begin);
    }
    std::uint64_t expected = dtype_size(e.dtype);
    for (auto d : e.shape) {
      if (__builtin_mul_overflow(expected, d, &expected)) fail(path, "shape size overflows", name, data_start + begin);
    }
    if (end - begin != expected) {
      fail(path,
           "byte length " + std::to_string(end - begin) + " != product(shape) x " +
               std::to_string(dtype_size(e.dtype)) + " = " + std::to_string(expected),
           name, data_start + begin);
    }
    e.data_begin = data_start + begin;
    e.data_end = data_start + end;
    h.tensors.push_back(std::move(e));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
  });
  for (std::size_t i = 1; i < h.tensors.size(); ++i) {
    if (h.tensors[i].data_begin < h.tensors[i - 1].data_end) {
      fail(path, "data overlaps tensor '" + h.tensors[i - 1].name + "'", h.tensors[i].name, h.tensors[i].data_begin);
    }
  }
  return h;
}

/// Random header text: mostly well-formed entries, with every field now and then missing,
/// repeated, of the wrong type or nested, names repeated, and the JSON itself now and then broken.
class HeaderGenerator {
 public:
  explicit HeaderGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string next(std::uint64_t& data_bytes) {
    offset_ = 0;
    std::string out;
    if (chance(0.03)) return junk_value(2);  // not an object
    out += "{";
    const int members = pick(0, 7);
    for (int i = 0; i < members; ++i) {
      if (i) out += ",";
      out += member();
    }
    out += "}";
    if (chance(0.03)) out.resize(static_cast<std::size_t>(pick(0, static_cast<int>(out.size()))));  // truncated
    if (chance(0.02)) out += " x";                                                                  // trailing
    data_bytes = offset_ + (chance(0.1) ? 0 : static_cast<std::uint64_t>(pick(0, 8)));
    if (chance(0.05) && data_bytes > 0) data_bytes -= 1;  // one byte short
    return out;
  }

 private:
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

  std::string junk_value(int depth) {
    switch (pick(0, depth > 0 ? 9 : 7)) {
      case 0:
        return "null";
      case 1:
        return chance(0.5) ? "true" : "false";
      case 2:
        return "-3";
      case 3:
        return "1.5";
      case 4:
        return chance(0.5) ? "1e400" : "18446744073709551616";
      case 5:
        return quoted("F16");
      case 6:
        return std::to_string(pick(0, 100));
      case 7:
        return "\"\"";
      case 8:
        return "[" + junk_value(depth - 1) + "," + junk_value(depth - 1) + "]";
      default:
        return "{\"k\":" + junk_value(depth - 1) + "}";
    }
  }

  std::string name() {
    static const std::vector<std::string> names{"a", "b", "c", "d", "model.layers.0.w", "__metadata__", "é"};
    return names[static_cast<std::size_t>(pick(0, static_cast<int>(names.size()) - 1))];
  }

  std::string member() {
    const auto n = name();
    if (n == "__metadata__") {
      if (chance(0.1)) return quoted(n) + ":" + junk_value(1);
      std::string m = "{";
      const int k = pick(0, 3);
      for (int i = 0; i < k; ++i) {
        if (i) m += ",";
        m += quoted(std::string(1, static_cast<char>('p' + pick(0, 2)))) + ":" +
             (chance(0.85) ? quoted("pt") : junk_value(1));
      }
      return quoted(n) + ":" + m + "}";
    }
    if (chance(0.05)) return quoted(n) + ":" + junk_value(2);
    return quoted(n) + ":" + entry();
  }

  std::string entry() {
    static const std::vector<std::pair<std::string, std::uint64_t>> dtypes{{"F32", 4}, {"BF16", 2},    {"F16", 2},
                                                                           {"I8", 1},  {"F8_E4M3", 1}, {"XX", 1}};
    const auto& [dtype, size] = dtypes[static_cast<std::size_t>(pick(0, chance(0.97) ? 4 : 5))];
    std::vector<std::uint64_t> shape(static_cast<std::size_t>(pick(0, 3)));
    std::uint64_t elements = 1;
    for (auto& d : shape) elements *= (d = static_cast<std::uint64_t>(pick(0, 4)));
    if (chance(0.02)) shape = {1ull << 40, 1ull << 40};  // overflows
    std::uint64_t begin = offset_, end = offset_ + elements * size;
    if (chance(0.05)) end += 1;                           // wrong length
    if (chance(0.05) && begin > 0) begin -= 1, end -= 1;  // overlaps the previous
    if (chance(0.03)) std::swap(begin, end);              // begin > end
    offset_ = std::max(offset_, end);
    std::vector<std::string> fields;
    const auto field = [&](const std::string& key, const std::string& value) {
      if (chance(0.04)) return;                                               // missing
      if (chance(0.04)) fields.push_back(quoted(key) + ":" + junk_value(2));  // repeated, junk first
      fields.push_back(quoted(key) + ":" + (chance(0.05) ? junk_value(2) : value));
    };
    field("dtype", quoted(dtype));
    std::string shape_text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) shape_text += (i ? "," : "") + std::to_string(shape[i]);
    if (chance(0.03)) shape_text += std::string(shape.empty() ? "" : ",") + junk_value(1);
    field("shape", shape_text + "]");
    std::string offsets = "[" + std::to_string(begin) + "," + std::to_string(end);
    if (chance(0.03)) offsets += "," + std::to_string(end);
    if (chance(0.03)) offsets = "[" + junk_value(1);
    field("data_offsets", offsets + "]");
    if (chance(0.1)) fields.push_back(quoted("extra") + ":" + junk_value(3));
    std::shuffle(fields.begin(), fields.end(), rng_);
    std::string out = "{";
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + fields[i];
    return out + "}";
  }

  std::mt19937_64 rng_;
  std::uint64_t offset_ = 0;
};

template <class F>
std::string outcome(F&& read, SafetensorsHeader& out) {
  try {
    out = read();
    return "ok";
  } catch (const InputError& e) {
    return e.what();
  }
}

TEST(SafetensorsHeader, OnePassParserAgreesWithTheDomReadingOnGeneratedHeaders) {
  HeaderGenerator generator(20261202);
  int accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t data_bytes = 0;
    const auto json = generator.next(data_bytes);
    const std::uint64_t file_size = 8 + json.size() + data_bytes;
    SafetensorsHeader expected, got;
    const auto want = outcome([&] { return dom_reading("h.safetensors", json, file_size); }, expected);
    const auto have = outcome([&] { return parse_safetensors_header("h.safetensors", json, file_size); }, got);
    ASSERT_EQ(have, want) << json;
    if (want != "ok") {
      ++refused;
      continue;
    }
    ++accepted;
    ASSERT_EQ(got.metadata, expected.metadata) << json;
    ASSERT_EQ(got.tensors.size(), expected.tensors.size()) << json;
    for (std::size_t t = 0; t < got.tensors.size(); ++t) {
      const auto &g = got.tensors[t], &e = expected.tensors[t];
      ASSERT_EQ(g.name, e.name) << json;
      ASSERT_EQ(g.dtype, e.dtype) << json;
      ASSERT_EQ(g.shape, e.shape) << json;
      ASSERT_EQ(g.data_begin, e.data_begin) << json;
      ASSERT_EQ(g.data_end, e.data_end) << json;
    }
  }
  // Both paths were exercised in earnest.
  EXPECT_GT(accepted, 2000);
  EXPECT_GT(refused, 2000);
}

}  // namespace
}  // namespace lineage::io
