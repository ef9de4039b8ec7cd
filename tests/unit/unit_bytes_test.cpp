// cluster::UnitBytes::read_as_asked: a range of a shard copied by pread a chunk at a time as a
// pass asks for its bytes (stages::ArrivingBytes), each byte once, with read()'s checks up front.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "cluster/unit_executor.hpp"
#include "core/errors.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace lineage::cluster {
namespace {

constexpr std::uint64_t kDataBytes = 3 * kReadChunkBytes + 1024;

/// Overwrites the data of `path` (a file of write_raw_safetensors with header `json`) with
/// bytes (i * step + 1) mod 256.
void fill_data(const std::filesystem::path& path, const std::string& json, unsigned step) {
  std::string data(kDataBytes, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * step + 1) & 0xff);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(8 + json.size()));
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good());
}

unsigned char byte_of(std::uint64_t data_offset, unsigned step) {
  return static_cast<unsigned char>((data_offset * step + 1) & 0xff);
}

TEST(UnitBytes, ReadAsAskedCopiesEachChunkWhenThePassFirstAsksForIt) {
  const testing::TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  const std::string json = R"({"w":{"dtype":"BF16","shape":[)" + std::to_string(kDataBytes / 2) +
                           R"(],"data_offsets":[0,)" + std::to_string(kDataBytes) + "]}}";
  testing::write_raw_safetensors(path, json, kDataBytes);
  fill_data(path, json, 3);
  std::vector<stages::RunModel> models(1);
  models[0].label = "suspect";
  models[0].dir = dir.path().string();
  UnitBytes bytes(models);
  const std::uint64_t data_begin = 8 + json.size();
  const stages::ElementView view{0, "w", "model.safetensors", Dtype::BF16,    data_begin,
                                 0, 1,   kDataBytes / 2,      kDataBytes / 2, 1};
  // From data byte 100, two chunks and 500 bytes.
  const std::uint64_t first = 100, size = 2 * kReadChunkBytes + 500;
  auto [span, ask] = bytes.read_as_asked(view, {data_begin + first, data_begin + first + size}, 0);
  ASSERT_EQ(span.size(), size);
  // The file changes under the run between asks, so each byte shows which ask copied it: an ask
  // that read too far, or read again, would show a later pattern.
  ask(10);  // copies the first chunk whole
  fill_data(path, json, 5);
  ask(kReadChunkBytes);      // already copied: nothing read
  ask(kReadChunkBytes + 1);  // the second chunk, no more
  fill_data(path, json, 7);
  ask(size);  // the 500 bytes left (less than a chunk)
  fill_data(path, json, 11);
  ask(size);  // nothing left to read
  for (std::uint64_t i = 0; i < size; ++i) {
    const unsigned step = i < kReadChunkBytes ? 3 : i < 2 * kReadChunkBytes ? 5 : 7;
    ASSERT_EQ(static_cast<unsigned char>(span[i]), byte_of(first + i, step)) << "byte " << i;
  }

  // The side's next range starts over: its first chunk is read anew.
  auto [again, ask_again] = bytes.read_as_asked(view, {data_begin, data_begin + size}, 0);
  ask_again(1);
  for (std::uint64_t i = 0; i < kReadChunkBytes; ++i) ASSERT_EQ(static_cast<unsigned char>(again[i]), byte_of(i, 11));

  // A range past the file's end is refused by read_as_asked itself, as read() refuses it, before
  // anything is read.
  EXPECT_THROW((void)bytes.read_as_asked(view, {data_begin, data_begin + kDataBytes + 2}, 1), InputError);
}

}  // namespace
}  // namespace lineage::cluster
