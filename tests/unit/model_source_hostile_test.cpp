// The hostile-input rules hold whatever a model is read through (io/model_source.hpp): a local
// folder read via ModelSource resolves every name with io/model_folder.hpp and reads regular
// files only; a remote folder's JSON goes through the same depth-limited parser, count bounds and
// header checks, and its messages never echo what the server sent. The remote side is an
// in-memory ModelSource here (tests/cli/lineage_remote.sh runs the real one against nginx).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/hf_config.hpp"
#include "io/model_source.hpp"
#include "io/safetensors_header.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

namespace fs = std::filesystem;
using lineage::testing::error_of;
using lineage::testing::write_bytes;

using lineage::testing::kSecret;

/// A remote model folder served from memory, checking names the way io/http_source.cpp does.
class MemorySource final : public io::ModelSource {
 public:
  std::map<std::string, std::string> files;
  [[nodiscard]] const std::string& location() const noexcept override { return location_; }
  [[nodiscard]] std::string where(const std::string& file) const override { return location_ + "/" + file; }
  [[nodiscard]] bool is_remote() const noexcept override { return true; }
  void check_folder() override {}
  [[nodiscard]] bool exists(const std::string& file) override { return files.count(file) > 0; }
  [[nodiscard]] std::optional<std::string> read_file(const std::string& file) override {
    check_name(file, location_);
    const auto it = files.find(file);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] std::optional<std::string> read_range(const std::string& file, std::uint64_t offset,
                                                      std::uint64_t length, std::uint64_t& total_size) override {
    check_name(file, location_);
    const auto it = files.find(file);
    if (it == files.end()) return std::nullopt;
    total_size = it->second.size();
    if (offset >= total_size) return std::string();
    return it->second.substr(offset, length);
  }
  void check_name(const std::string& file, const std::string& named_by) const override {
    if (!io::is_plain_relative_name(file))
      throw InputError(named_by, "file name '" + file + "' escapes the model folder");
  }

 private:
  std::string location_ = "http://models.invalid/m";
};

std::string safetensors_bytes(const std::string& json, std::size_t data_bytes) {
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  return out + json + std::string(data_bytes, '\0');
}

TEST(RemoteHostile, ConfigCountsAndTypesAreBoundedAsForALocalFolder) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"num_hidden_layers": 1000000000})", "key 'num_hidden_layers' = 1000000000 is above the limit"},
           {R"({"num_experts": 1e9})", "key 'num_experts' = 1000000000.0 is above the limit"},
           {R"({"text_config": {"num_hidden_layers": -1}})",
            "key 'text_config.num_hidden_layers' is not a non-negative"},
           {R"({"model_type": 7})", "key 'model_type' is not a string"},
           {"[1, 2]", "config is not a JSON object"},
       }) {
    MemorySource s;
    s.files["config.json"] = text;
    const auto msg = error_of([&] { (void)io::read_model_config(s); });
    EXPECT_NE(msg.find(want), std::string::npos) << text << ": " << msg;
    EXPECT_NE(msg.find("http://models.invalid/m/config.json"), std::string::npos) << msg;
  }
}

TEST(RemoteHostile, JsonIsDepthLimitedAndNeverEchoed) {
  MemorySource s;
  s.files["config.json"] = std::string(60000, '[');
  auto msg = error_of([&] { (void)io::read_model_config(s); });
  EXPECT_NE(msg.find("nested deeper than 64 levels"), std::string::npos) << msg;
  s.files["config.json"] = std::string(kSecret) + "\npassword=hunter2\n";
  msg = error_of([&] { (void)io::read_model_config(s); });
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
  // The index.
  s.files.erase("config.json");
  s.files[io::kIndexFileName] = R"({"weight_map": )" + std::string(5000, '{');
  msg = error_of([&] { (void)io::list_checkpoint(s, true); });
  EXPECT_NE(msg.find("nested deeper than 64 levels"), std::string::npos) << msg;
  s.files[io::kIndexFileName] = std::string("{\"weight_map\": ") + kSecret;
  msg = error_of([&] { (void)io::list_checkpoint(s, true); });
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
  // A shard header.
  s.files.erase(io::kIndexFileName);
  s.files[io::kSingleFileName] = safetensors_bytes(std::string(5000, '{'), 0);
  msg = error_of([&] { (void)io::list_checkpoint(s, false); });
  EXPECT_NE(msg.find("JSON header nested deeper"), std::string::npos) << msg;
  s.files[io::kSingleFileName] = safetensors_bytes(std::string("{\"") + kSecret + "\": ", 0);
  msg = error_of([&] { (void)io::list_checkpoint(s, false); });
  EXPECT_NE(msg.find("malformed JSON header"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
}

TEST(RemoteHostile, HeaderNamesAreEscapedAndLengthsChecked) {
  MemorySource s;
  s.files[io::kSingleFileName] = safetensors_bytes(
      R"({"evil\u001b[2J\u001b]0;pwned\u0007": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}})", 8);
  auto msg = error_of([&] { (void)io::list_checkpoint(s, false); });
  EXPECT_NE(msg.find("evil\\x1b[2J"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
  std::string huge(8, '\0');
  const std::uint64_t n = io::kMaxSafetensorsHeader + 1;
  std::memcpy(huge.data(), &n, 8);
  s.files[io::kSingleFileName] = huge + "{}";
  msg = error_of([&] { (void)io::list_checkpoint(s, false); });
  EXPECT_NE(msg.find("exceeds the"), std::string::npos) << msg;
}

TEST(RemoteHostile, IndexNamesLeavingTheFolderAreRefused) {
  for (const char* evil : {"../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors", ""}) {
    MemorySource s;
    s.files[io::kIndexFileName] = std::string(R"({"weight_map": {"a": ")") + evil + "\"}}";
    const auto msg = error_of([&] { (void)io::list_checkpoint(s, true); });
    EXPECT_NE(msg.find("escapes the model folder"), std::string::npos) << evil << ": " << msg;
  }
  // The real HTTP source: no request is made for a refused name; other bytes are percent-encoded.
  const auto http = io::open_model("http://127.0.0.1:9/m");
  EXPECT_NE(error_of([&] { http->check_name("../x.safetensors", "index"); }).find("escapes the model folder"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)http->read_file("../../etc/passwd"); }).find("escapes the model folder"),
            std::string::npos);
  EXPECT_EQ(http->where("sub/a b?c#d%2e.safetensors"), "http://127.0.0.1:9/m/sub/a%20b%3Fc%23d%252e.safetensors");
  EXPECT_FALSE(io::is_plain_relative_name(std::string("a\0b", 3)));
}

TEST(LocalSourceHostile, SymlinksOutAreRefusedAndSecretsNotPrinted) {
  lineage::testing::TempDir d;
  const auto planted = lineage::testing::write_secret_beside_model(d.path());
  const auto& secret = planted.secret;
  const auto& model = planted.model;
  fs::create_symlink(secret, model / "config.json");
  fs::create_symlink(secret, model / "model.safetensors");
  fs::create_symlink(d.path(), model / "up");
  const auto source = io::open_local_model(model);
  for (const auto& msg : {error_of([&] { (void)io::read_model_config(*source); }),
                          error_of([&] { (void)source->read_file("config.json"); }),
                          error_of([&] { (void)io::list_checkpoint(*source, false); }),
                          error_of([&] { source->check_name("up/secrets.txt", "the index"); })}) {
    EXPECT_NE(msg.find("escapes the model folder"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
  }
  std::uint64_t size = 0;
  EXPECT_NE(error_of([&] { (void)source->read_range("model.safetensors", 0, 8, size); }).find("escapes"),
            std::string::npos);
  // A dangling link is present (and refused when read), not silently absent.
  fs::create_symlink(d.path() / "nowhere", model / "tokenizer.json");
  EXPECT_TRUE(source->exists("tokenizer.json"));
}

TEST(LocalSourceHostile, HuggingFaceCacheLayoutIsAccepted) {
  lineage::testing::TempDir d;
  const auto snap = lineage::testing::write_hf_cache_snapshot(d.path());
  const auto repo = snap.parent_path().parent_path();
  write_bytes(repo / "blobs" / "idx", R"({"weight_map": {"w": "model-1.safetensors"}})");
  fs::create_symlink("../../blobs/idx", snap / io::kIndexFileName);
  fs::create_symlink("../../blobs/bbb", snap / "model-1.safetensors");
  const auto source = io::open_model(snap.string());
  const auto cfg = io::read_model_config(*source);
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ((*cfg)["num_hidden_layers"], 2);
  const auto listing = io::list_checkpoint(*source, false);
  ASSERT_EQ(listing.tensors.size(), 1u);
  EXPECT_EQ(listing.tensors[0].name, "w");
  EXPECT_TRUE(io::incomplete_download(snap).empty());
  // A blob of another cache repo is outside.
  lineage::testing::link_config_to_other_cache_repo(d.path(), snap);
  EXPECT_NE(error_of([&] { (void)io::read_model_config(*source); }).find("escapes the model folder"),
            std::string::npos);
}

TEST(LocalSourceHostile, FifoIsRefusedNotWaitedOn) {
  lineage::testing::TempDir d;
  ASSERT_EQ(::mkfifo((d.path() / "model.safetensors").c_str(), 0600), 0);
  const auto source = io::open_local_model(d.path());
  auto msg = error_of([&] { (void)io::list_checkpoint(*source, false); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  ASSERT_EQ(::mkfifo((d.path() / "config.json").c_str(), 0600), 0);
  msg = error_of([&] { (void)io::read_model_config(*source); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
  ASSERT_EQ(::mkfifo((d.path() / io::kIndexFileName).c_str(), 0600), 0);
  msg = error_of([&] { (void)io::list_checkpoint(*source, true); });
  EXPECT_NE(msg.find("not a regular file"), std::string::npos) << msg;
}

TEST(LocalSourceHostile, AnEscapingShardIsLeftToListCheckpointNotCalledIncomplete) {
  lineage::testing::TempDir d;
  write_bytes(d.path() / io::kIndexFileName, R"({"weight_map": {"a": "../outside.safetensors"}})");
  EXPECT_TRUE(io::incomplete_download(d.path()).empty());
  const auto msg = error_of([&] { (void)io::list_checkpoint(d.path(), false); });
  EXPECT_NE(msg.find("escapes the model folder"), std::string::npos) << msg;
}

}  // namespace
}  // namespace lineage
