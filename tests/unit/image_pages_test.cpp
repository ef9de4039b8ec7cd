#include "io/hdf5/image_pages.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

#include "support/file_size_limit.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

bool all_zero(const std::byte* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::byte b) { return b == std::byte{0}; });
}

void fill(std::byte* p, std::size_t n, std::uint8_t seed) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
}

bool filled(const std::byte* p, std::size_t n, std::uint8_t seed) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != static_cast<std::byte>((i * 131 + seed) & 0xff)) return false;
  }
  return true;
}

TEST(ImagePages, StartsZeroAtTheSizeAsked) {
  const ImagePages pages(10'000);
  ASSERT_NE(pages.data(), nullptr);
  EXPECT_EQ(pages.size(), 10'000u);
  EXPECT_EQ(pages.bytes().size(), 10'000u);
  EXPECT_TRUE(all_zero(pages.data(), pages.size()));
  const ImagePages empty;
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

// The core driver's pattern: growth by 1 MiB steps, each new step zero and the old bytes kept,
// whether the kernel grows the mapping in place or moves it.
TEST(ImagePages, GrowingKeepsTheBytesAndGivesZeroes) {
  ImagePages pages;
  constexpr std::size_t step = 1u << 20;
  for (std::size_t size = step; size <= 24 * step; size += step) {
    ASSERT_TRUE(pages.resize(size));
    ASSERT_EQ(pages.size(), size);
    ASSERT_TRUE(all_zero(pages.data() + size - step, step)) << size;
    ASSERT_TRUE(filled(pages.data(), size - step, 7)) << size;
    fill(pages.data() + size - step, step, 7);
    // The pattern continues across steps: fill from the start once more to keep one pattern.
    fill(pages.data(), size, 7);
  }
  EXPECT_TRUE(filled(pages.data(), pages.size(), 7));
}

// Bytes given back by a smaller size are zero again when the size grows over them; bytes below
// the smaller size stay.
TEST(ImagePages, ShrinkingThenGrowingZeroesWhatWasGivenBack) {
  ImagePages pages(3 * 4096 + 100);
  fill(pages.data(), pages.size(), 3);
  ASSERT_TRUE(pages.resize(5000));
  EXPECT_TRUE(filled(pages.data(), 5000, 3));
  ASSERT_TRUE(pages.resize(5 * 4096));
  EXPECT_TRUE(filled(pages.data(), 5000, 3));
  EXPECT_TRUE(all_zero(pages.data() + 5000, 5 * 4096 - 5000));
  ASSERT_TRUE(pages.resize(0));
  EXPECT_EQ(pages.size(), 0u);
  ASSERT_TRUE(pages.resize(100));
  EXPECT_TRUE(all_zero(pages.data(), 100));
}

TEST(ImagePages, MovesOwnershipAndReleases) {
  ImagePages a(8192);
  fill(a.data(), a.size(), 9);
  const auto* where = a.data();
  ImagePages b(std::move(a));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is documented
  EXPECT_EQ(a.size(), 0u);       // NOLINT(bugprone-use-after-move)
  ImagePages c(100);
  c = std::move(b);
  EXPECT_EQ(c.data(), where);
  EXPECT_TRUE(filled(c.data(), 8192, 9));
  c.release();
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_EQ(c.size(), 0u);
  ASSERT_TRUE(c.resize(4096));  // usable again after release
  EXPECT_TRUE(all_zero(c.data(), 4096));
}

TEST(ImagePages, RefusesWhatTheKernelCannotMap) {
  ImagePages pages(4096);
  fill(pages.data(), 4096, 1);
  EXPECT_FALSE(pages.resize(std::size_t{1} << 62));
  EXPECT_EQ(pages.size(), 4096u);  // unchanged
  EXPECT_TRUE(filled(pages.data(), 4096, 1));
  EXPECT_THROW(ImagePages(std::size_t{1} << 62), std::bad_alloc);
}

/// A file opened for reading and writing, closed when the test ends.
class OpenFile {
 public:
  explicit OpenFile(const std::filesystem::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600)) {}
  ~OpenFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::vector<std::byte> bytes(std::size_t n) const {
    std::vector<std::byte> out(n);
    EXPECT_EQ(::pread(fd_, out.data(), n, 0), static_cast<ssize_t>(n));
    return out;
  }
  [[nodiscard]] struct stat status() const {
    struct stat st {};
    EXPECT_EQ(::fstat(fd_, &st), 0);
    return st;
  }

 private:
  int fd_;
};

// Pages of a file are the file's bytes: what is written to them is what the file reads, its blocks
// are reserved before the pages are handed out, and they behave as anonymous pages do otherwise
// (growth keeps the bytes and gives zeroes, bytes given back are zero again, also after release).
TEST(ImagePages, OfAFileAreItsBytesWithItsBlocksReservedFirst) {
  lineage::testing::TempDir dir;
  const OpenFile file(dir.path() / "image");
  ASSERT_GE(file.fd(), 0);
  auto pages = ImagePages::of_file(file.fd());
  constexpr std::size_t step = 1u << 20;
  for (std::size_t size = step; size <= 6 * step; size += step) {
    ASSERT_TRUE(pages.resize(size));
    ASSERT_TRUE(all_zero(pages.data() + size - step, step)) << size;
    ASSERT_TRUE(filled(pages.data(), size - step, 5)) << size;
    fill(pages.data(), size, 5);
    const auto st = file.status();
    EXPECT_GE(static_cast<std::size_t>(st.st_size), size);
    EXPECT_GE(static_cast<std::size_t>(st.st_blocks) * 512, size);  // reserved, not a sparse file
  }
  const auto on_disk = file.bytes(6 * step);
  EXPECT_TRUE(filled(on_disk.data(), on_disk.size(), 5));
  EXPECT_EQ(pages.refusal(), 0);
  ASSERT_TRUE(pages.resize(5000));
  ASSERT_TRUE(pages.resize(3 * step));
  EXPECT_TRUE(filled(pages.data(), 5000, 5));
  EXPECT_TRUE(all_zero(pages.data() + 5000, 3 * step - 5000));
  pages.release();
  EXPECT_EQ(pages.data(), nullptr);
  ASSERT_TRUE(pages.resize(8192));  // the file's old bytes are handed out as zeroes
  EXPECT_TRUE(all_zero(pages.data(), 8192));
  fill(pages.data(), 8192, 6);
  pages.release();
  EXPECT_TRUE(filled(file.bytes(8192).data(), 8192, 6));
}

// A growth whose blocks cannot be reserved (here past a file size limit, as on a full disk) is
// refused before any page is handed out: nothing changes, and the reason is kept.
TEST(ImagePages, OfAFileRefuseAGrowthTheFileSystemCannotReserve) {
  lineage::testing::TempDir dir;
  const OpenFile file(dir.path() / "image");
  ASSERT_GE(file.fd(), 0);
  auto pages = ImagePages::of_file(file.fd());
  ASSERT_TRUE(pages.resize(4096));
  fill(pages.data(), 4096, 2);
  {
    const lineage::testing::FileSizeLimit limit(std::size_t{64} * 1024);
    EXPECT_FALSE(pages.resize(1u << 20));
  }
  EXPECT_EQ(pages.refusal(), EFBIG);
  EXPECT_EQ(pages.size(), 4096u);
  EXPECT_TRUE(filled(pages.data(), 4096, 2));
  EXPECT_LE(file.status().st_size, 64 * 1024);
  ASSERT_TRUE(pages.resize(1u << 20));  // room again
  EXPECT_TRUE(all_zero(pages.data() + 4096, (1u << 20) - 4096));
}

}  // namespace
}  // namespace lineage::io
