#include "io/safetensors_file.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/hf_config.hpp"
#include "io/safetensors_writer.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

using lineage::testing::error_of;
using lineage::testing::TempDir;
using lineage::testing::write_raw_safetensors;

std::vector<std::byte> bf16_bytes(std::size_t n, std::uint16_t start) {
  std::vector<std::byte> b(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t v = static_cast<std::uint16_t>(start + i);
    std::memcpy(b.data() + 2 * i, &v, 2);
  }
  return b;
}

TEST(Safetensors, WriterAndReaderRoundTrip) {
  TempDir d;
  const auto a = bf16_bytes(6, 0x3F80);
  const auto b = bf16_bytes(3, 0x4000);
  write_safetensors(d.path() / "m.safetensors",
                    {{"w", Dtype::BF16, {2, 3}, a}, {"bias", Dtype::BF16, {3}, b}, {"empty", Dtype::F32, {0, 4}, {}}},
                    {{"format", "pt"}});
  SafetensorsFile f(d.path() / "m.safetensors");
  const auto h = read_safetensors_header(d.path() / "m.safetensors");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ((8 + h.header_length) % 8, 0u);
  ASSERT_EQ(h.tensors.size(), 3u);
  const auto* w = h.find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(w->dtype, Dtype::BF16);
  const auto bytes = f.bytes(*w);
  ASSERT_EQ(bytes.size(), a.size());
  EXPECT_EQ(std::memcmp(bytes.data(), a.data(), a.size()), 0);
  EXPECT_EQ(h.find("empty")->bytes(), 0u);
  // No temporary files left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(d.path())) ++files;
  EXPECT_EQ(files, 1u);
}

/// RssFile of this process, in kB (mapped file pages, what prefetch adds and release removes).
long rss_file_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

// compare maps a unit's pages before reading them and unmaps them after: the pages must really
// be mapped, then gone from the resident set, and the bytes unchanged when read again.
TEST(Safetensors, PrefetchMapsAndReleaseUnmapsAWindow) {
  TempDir d;
  const std::size_t n = 16u << 20;  // 16 MB of F32
  std::vector<std::byte> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::byte>(i * 7 + 3);
  write_safetensors(d.path() / "m.safetensors", {{"w", Dtype::F32, {n / 4}, data}});
  SafetensorsFile f(d.path() / "m.safetensors");
  const auto header = read_safetensors_header(d.path() / "m.safetensors");
  const auto* w = header.find("w");
  ASSERT_NE(w, nullptr);
  const long before = rss_file_kb();
  ASSERT_GE(before, 0);
  f.prefetch(w->data_begin, w->data_end);
  const long mapped = rss_file_kb();
  EXPECT_GE(mapped - before, 15 * 1024);  // without a single access
  f.release(w->data_begin, w->data_end);
  EXPECT_LE(rss_file_kb() - before, 1024);
  const auto bytes = f.range(w->data_begin, w->data_end);
  EXPECT_EQ(std::memcmp(bytes.data(), data.data(), n), 0);
  // Ranges past the end are clipped, empty ones ignored.
  f.prefetch(w->data_end, w->data_end + 4096);
  f.release(w->data_end, w->data_begin);
}

// Whole units are copied by pread instead of mapped: the same bytes, a buffer that only grows,
// no pages mapped, and a file cut short after opening is an InputError, not a short read.
TEST(Safetensors, ReadCopiesTheBytesTheMappingShows) {
  TempDir d;
  const std::size_t n = 4u << 20;
  std::vector<std::byte> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::byte>(i * 13 + 5);
  const auto path = d.path() / "m.safetensors";
  write_safetensors(path, {{"w", Dtype::F32, {n / 4}, data}});
  SafetensorsFile f(path);
  const auto header = read_safetensors_header(path);
  const auto* w = header.find("w");
  ASSERT_NE(w, nullptr);
  std::unique_ptr<std::byte[]> buffer;
  std::size_t capacity = 0;
  const long before = rss_file_kb();
  const auto whole = f.read(w->data_begin, w->data_end, buffer, capacity);
  EXPECT_LE(rss_file_kb() - before, 256);  // copied, not mapped
  ASSERT_EQ(whole.size(), n);
  EXPECT_EQ(std::memcmp(whole.data(), data.data(), n), 0);
  EXPECT_EQ(capacity, n);
  const auto* first = buffer.get();
  const auto part = f.read(w->data_begin + 100, w->data_begin + 1000, buffer, capacity);
  EXPECT_EQ(buffer.get(), first);  // reused: large enough
  EXPECT_EQ(capacity, n);
  ASSERT_EQ(part.size(), 900u);
  EXPECT_EQ(std::memcmp(part.data(), data.data() + 100, 900), 0);
  const auto mapped = f.range(w->data_begin + 100, w->data_begin + 1000);
  EXPECT_EQ(std::memcmp(part.data(), mapped.data(), 900), 0);
  EXPECT_THROW((void)f.read(w->data_end, w->data_end + 1, buffer, capacity), InputError);
  // Small reads straight into the caller's memory, checked against the header's size.
  std::vector<std::byte> into(900);
  f.read_into(w->data_begin + 100, w->data_begin + 1000, into.data());
  EXPECT_EQ(std::memcmp(into.data(), data.data() + 100, 900), 0);
  EXPECT_THROW(f.read_into(w->data_end, w->data_end + 1, into.data()), InputError);
  std::filesystem::resize_file(path, w->data_begin + 10);
  // Without read()'s length check, a cut file still fails: the read comes up short.
  const auto cut = error_of([&] { f.read_into(w->data_begin + 100, w->data_begin + 1000, into.data()); });
  EXPECT_NE(cut.find("truncated while being read"), std::string::npos) << cut;
  const auto msg = error_of([&] { (void)f.read(w->data_begin, w->data_end, buffer, capacity); });
  EXPECT_NE(msg.find("m.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shrank"), std::string::npos) << msg;
}

struct BadCase {
  const char* what;
  std::string json;
  std::size_t data_bytes;
  const char* expect_reason;
  const char* expect_tensor;
};

TEST(Safetensors, EveryInvalidHeaderIsOneClearError) {
  const std::vector<BadCase> cases = {
      {"malformed JSON", R"({"a": {"dtype": "F32", "shape": [1], )", 4, "malformed JSON header", ""},
      {"unknown dtype", R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", 4, "unknown dtype 'F12'",
       "tensor 'a'"},
      {"size mismatch", R"({"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}})", 4,
       "byte length 4 != product(shape)", "tensor 'a'"},
      {"out of range", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, "run past the end of the file",
       "tensor 'a'"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, "overlaps tensor 'a'", "tensor 'b'"},
      {"begin after end", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8, "begin > end", "tensor 'a'"},
      {"negative shape", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "non-integer or negative",
       "tensor 'a'"},
      {"duplicate",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "duplicate tensor name", "tensor 'a'"},
      {"not an object", R"([1,2])", 0, "not a JSON object", ""},
  };
  TempDir d;
  for (const auto& c : cases) {
    const auto p = d.path() / "bad.safetensors";
    write_raw_safetensors(p, c.json, c.data_bytes);
    const auto msg = error_of([&] { SafetensorsFile f(p); });
    EXPECT_NE(msg.find("bad.safetensors:"), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expect_reason), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expect_tensor), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find("at byte "), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(Safetensors, TruncatedAndOversizedHeaders) {
  TempDir d;
  const auto p = d.path() / "t.safetensors";
  lineage::testing::write_bytes(p, "abc");
  EXPECT_NE(error_of([&] { (void)read_safetensors_header(p); }).find("too short"), std::string::npos);
  std::string big(8, '\0');
  big[0] = static_cast<char>(0xFF);
  big[1] = static_cast<char>(0x10);  // 4351 bytes claimed
  big += "{}";
  lineage::testing::write_bytes(p, big);
  EXPECT_NE(error_of([&] { (void)read_safetensors_header(p); }).find("larger than the file"), std::string::npos);
  std::string huge(8, '\0');
  huge[7] = 0x01;  // 2^56
  lineage::testing::write_bytes(p, huge);
  EXPECT_NE(error_of([&] { (void)read_safetensors_header(p); }).find("exceeds"), std::string::npos);
  // A valid file cut short in its data section.
  write_safetensors(p, {{"w", Dtype::F32, {4}, std::vector<std::byte>(16)}});
  std::filesystem::resize_file(p, std::filesystem::file_size(p) - 4);
  const auto msg = error_of([&] { (void)read_safetensors_header(p); });
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
}

void write_index(const std::filesystem::path& dir, const nlohmann::json& weight_map) {
  nlohmann::json idx{{"metadata", {{"total_size", 24}}}, {"weight_map", weight_map}};
  lineage::testing::write_bytes(dir / kIndexFileName, idx.dump());
}

TEST(Checkpoint, ShardedFolderListsEveryTensorAndUnindexedOnes) {
  TempDir d;
  const std::vector<std::byte> z(8);
  write_safetensors(d.path() / "model-00001-of-00002.safetensors",
                    {{"a", Dtype::F32, {2}, z}, {"stray", Dtype::F32, {2}, z}});
  write_safetensors(d.path() / "model-00002-of-00002.safetensors", {{"b", Dtype::F32, {2}, z}});
  write_index(d.path(), {{"b", "model-00002-of-00002.safetensors"}, {"a", "model-00001-of-00002.safetensors"}});
  const auto l = list_checkpoint(d.path(), false);
  ASSERT_EQ(l.tensors.size(), 2u);
  EXPECT_EQ(l.tensors[0].name, "a");  // name order
  EXPECT_EQ(l.tensors[1].shape, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(l.unindexed, std::vector<std::string>{"model-00001-of-00002.safetensors:stray"});
  EXPECT_EQ(l.index_total_size, 24u);
  const auto idx = list_checkpoint(d.path(), true);
  EXPECT_FALSE(idx.tensors[0].shape.has_value());
  EXPECT_EQ(idx.shard_files.size(), 2u);
}

TEST(Checkpoint, TensorsOfOneShardShareItsFileName) {
  // One name per shard file, not a string per tensor: 100k tensors share a few files, and the
  // inventory and the units copy the name again.
  TempDir d;
  const std::vector<std::byte> z(8);
  write_safetensors(d.path() / "model-00001-of-00002.safetensors",
                    {{"a", Dtype::F32, {2}, z}, {"c", Dtype::F32, {2}, z}});
  write_safetensors(d.path() / "model-00002-of-00002.safetensors", {{"b", Dtype::F32, {2}, z}});
  write_index(d.path(), {{"a", "model-00001-of-00002.safetensors"},
                         {"b", "model-00002-of-00002.safetensors"},
                         {"c", "model-00001-of-00002.safetensors"}});
  for (const bool index_only : {false, true}) {
    const auto l = list_checkpoint(d.path(), index_only);
    ASSERT_EQ(l.tensors.size(), 3u);
    EXPECT_EQ(l.tensors[0].file.str(), "model-00001-of-00002.safetensors");
    EXPECT_EQ(l.tensors[1].file.str(), "model-00002-of-00002.safetensors");
    EXPECT_EQ(&l.tensors[0].file.str(), &l.tensors[2].file.str()) << "index_only " << index_only;
  }
  write_safetensors(d.path() / "model.safetensors", {{"x", Dtype::F32, {2}, z}, {"y", Dtype::F32, {2}, z}});
  std::filesystem::remove(d.path() / kIndexFileName);
  const auto single = list_checkpoint(d.path(), false);
  ASSERT_EQ(single.tensors.size(), 2u);
  EXPECT_EQ(single.tensors[0].file.str(), "model.safetensors");
  EXPECT_EQ(&single.tensors[0].file.str(), &single.tensors[1].file.str());
}

TEST(Checkpoint, BadFoldersAreClearErrors) {
  TempDir d;
  const std::vector<std::byte> z(8);
  write_safetensors(d.path() / "s1.safetensors", {{"a", Dtype::F32, {2}, z}});
  // Missing shard.
  write_index(d.path(), {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}});
  auto msg = error_of([&] { (void)list_checkpoint(d.path(), false); });
  EXPECT_NE(msg.find("shard 's2.safetensors' is missing"), std::string::npos) << msg;
  // Index names a tensor the shard does not have.
  write_index(d.path(), {{"a", "s1.safetensors"}, {"ghost", "s1.safetensors"}});
  msg = error_of([&] { (void)list_checkpoint(d.path(), false); });
  EXPECT_NE(msg.find("s1.safetensors: tensor 'ghost'"), std::string::npos) << msg;
  // Paths escaping the folder: relative and absolute, even in index-only mode.
  for (const char* evil : {"../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors"}) {
    write_index(d.path(), {{"a", evil}});
    msg = error_of([&] { (void)list_checkpoint(d.path(), true); });
    EXPECT_NE(msg.find("escapes the model folder"), std::string::npos) << evil << ": " << msg;
  }
  // A symlink that points outside.
  std::filesystem::create_symlink("/tmp", d.path() / "link");
  write_index(d.path(), {{"a", "link/x.safetensors"}});
  msg = error_of([&] { (void)list_checkpoint(d.path(), true); });
  EXPECT_NE(msg.find("escapes the model folder"), std::string::npos) << msg;
  // Malformed index JSON names the index file and a byte offset.
  lineage::testing::write_bytes(d.path() / kIndexFileName, "{\"weight_map\": {\"a\": ");
  msg = error_of([&] { (void)list_checkpoint(d.path(), true); });
  EXPECT_NE(msg.find("model.safetensors.index.json: at byte"), std::string::npos) << msg;
  // No checkpoint at all.
  TempDir empty;
  EXPECT_NE(error_of([&] { (void)list_checkpoint(empty.path(), false); }).find("no model.safetensors"),
            std::string::npos);
}

TEST(Checkpoint, RealWeightMapsLoadIndexOnly) {
  const std::filesystem::path real = std::string(LINEAGE_TEST_DATA_DIR) + "/real";
  const auto mixtral = list_checkpoint(real / "mistralai__Mixtral-8x7B-v0.1", true);
  EXPECT_EQ(mixtral.tensors.size(), 995u);
  EXPECT_EQ(mixtral.shard_files.size(), 19u);
  EXPECT_EQ(mixtral.index_total_size, 93405585408u);
  const auto reap = list_checkpoint(real / "bryce-hoehn__Qwen3.5-25B-REAP-A3B-Coding", true);
  EXPECT_EQ(reap.tensors.size(), 22213u);
  EXPECT_EQ(reap.index_total_parameters, 25091371648u);
}

TEST(HfConfig, NestedConfigsOfVlmAndOcrModels) {
  const std::filesystem::path real = std::string(LINEAGE_TEST_DATA_DIR) + "/real";
  const auto gemma = read_model_config(real / "google__medgemma-27b-it");
  ASSERT_TRUE(gemma);
  std::vector<std::string> keys;
  for (const auto& s : nested_configs(*gemma)) keys.push_back(s.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"text_config", "vision_config"}));
  const auto ocr = read_model_config(real / "deepseek-ai__DeepSeek-OCR-2");
  ASSERT_TRUE(ocr);
  keys.clear();
  for (const auto& s : nested_configs(*ocr)) keys.push_back(s.key);
  EXPECT_NE(std::find(keys.begin(), keys.end(), "language_config"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "vision_config"), keys.end());
  EXPECT_FALSE(read_model_config(real / "JasonWu543__TransGQA-Qwen3-30B-A3B").has_value());
  TempDir d;
  lineage::testing::write_bytes(d.path() / "config.json", "{\"hidden_size\": 12,,}");
  const auto msg = error_of([&] { (void)read_model_config(d.path()); });
  EXPECT_NE(msg.find("config.json: at byte"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lineage::io
