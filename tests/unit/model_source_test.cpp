// Model locations (local, http(s)://, hf://), the SHA-256 used by lineage fetch, and the
// incomplete-download check that compare runs before reading a folder.
#include "io/model_source.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/http_client.hpp"
#include "io/http_source.hpp"
#include "io/sha256.hpp"

namespace fs = std::filesystem;
using namespace lineage;

TEST(ModelSource, LocationsResolveToFolderUrls) {
  io::RemoteOptions o;
  o.hf_endpoint = "http://127.0.0.1:8080/";
  EXPECT_TRUE(io::is_remote_location("https://x/y"));
  EXPECT_TRUE(io::is_remote_location("hf://a/b"));
  EXPECT_FALSE(io::is_remote_location("/data/https://x"));
  EXPECT_EQ(io::remote_base_url("hf://org/name@v1.0", o), "http://127.0.0.1:8080/org/name/resolve/v1.0/");
  EXPECT_EQ(io::remote_base_url("hf://org/name", o), "http://127.0.0.1:8080/org/name/resolve/main/");
  EXPECT_EQ(io::remote_base_url("https://h/models/m", o), "https://h/models/m/");
  EXPECT_EQ(io::remote_base_url("https://h/models/m/", o), "https://h/models/m/");
  EXPECT_THROW((void)io::remote_base_url("hf://justname", o), InputError);
  EXPECT_THROW((void)io::remote_base_url("hf://a/b/c", o), InputError);
  EXPECT_THROW((void)io::remote_base_url("hf://a/b@", o), InputError);
  EXPECT_THROW((void)io::remote_base_url("https:///nohost", o), InputError);
}

TEST(ModelSource, ShardNamesMustStayInsideTheFolder) {
  EXPECT_TRUE(io::is_plain_relative_name("model-00001.safetensors"));
  EXPECT_TRUE(io::is_plain_relative_name("sub/model.safetensors"));
  EXPECT_FALSE(io::is_plain_relative_name("../model.safetensors"));
  EXPECT_FALSE(io::is_plain_relative_name("/etc/passwd"));
  EXPECT_FALSE(io::is_plain_relative_name(""));
}

TEST(RemoteReader, HeaderLinesAndRangeAnswersAsTheFuzzerDrivesThem) {
  // A redirect whose 302 carries X-Linked-Etag, then the 206: the linked hash survives, the
  // first response's fields do not.
  io::ResponseHeaders h;
  const std::string sha(64, 'a');
  for (const char* line : {"HTTP/1.1 302 Found\r\n", "Content-Length: 7\r\n", "ETag: \"nope\"\r\n"}) h.apply(line);
  h.apply("X-Linked-Etag: W/\"" + sha + "\"\r\n");
  for (const char* line : {"HTTP/1.1 206 Partial Content\r\n", "content-range: bytes 5-9/100\r\n", "Junk\r\n"})
    h.apply(line);
  EXPECT_FALSE(h.response.content_length.has_value());
  EXPECT_EQ(h.response.range_start, 5u);
  EXPECT_EQ(h.response.range_total, 100u);
  EXPECT_EQ(h.sha256(), sha);
  h.apply("Content-Range: bytes 99999999999999999999-1/2\r\n");  // beyond 64 bits: no value
  EXPECT_FALSE(h.response.range_start.has_value());

  io::HttpResponse r;
  r.status = 206;
  r.range_start = 5;
  r.range_total = 100;
  r.body = "01234";
  std::uint64_t total = 0;
  EXPECT_EQ(io::range_answer(r, "u", 5, 5, total), "01234");
  EXPECT_EQ(total, 100u);
  EXPECT_THROW((void)io::range_answer(r, "u", 6, 5, total), InputError);  // another range than asked
  EXPECT_THROW((void)io::range_answer(r, "u", 5, 6, total), InputError);  // a short body
  r.status = 200;
  EXPECT_THROW((void)io::range_answer(r, "u", 5, 5, total), InputError);  // no range support
  r.status = 404;
  EXPECT_FALSE(io::range_answer(r, "u", 5, 5, total).has_value());
  r.status = 416;
  r.range_total = 3;
  EXPECT_EQ(io::range_answer(r, "u", 5, 5, total), "");
  EXPECT_EQ(total, 3u);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(io::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(io::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto p = fs::temp_directory_path() / ("lineage_sha_" + std::to_string(::getpid()));
  std::ofstream(p, std::ios::binary) << "abc";
  EXPECT_EQ(io::sha256_file_hex(p), io::sha256_hex("abc"));
  fs::remove(p);
}

TEST(ModelSource, PartFilesAndMissingShardsMakeAFolderIncomplete) {
  const auto dir = fs::temp_directory_path() / ("lineage_incomplete_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {"a": "s1.safetensors"}})";
  auto problems = io::incomplete_download(dir);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("s1.safetensors: named by the index but missing"), std::string::npos);
  std::ofstream(dir / "s1.safetensors.part") << "x";
  problems = io::incomplete_download(dir);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("partial download"), std::string::npos);
  fs::remove_all(dir);
}
