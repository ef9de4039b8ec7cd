#include "io/hdf5/anonymous_pages.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>

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

TEST(AnonymousPages, StartsZeroAtTheSizeAsked) {
  const AnonymousPages pages(10'000);
  ASSERT_NE(pages.data(), nullptr);
  EXPECT_EQ(pages.size(), 10'000u);
  EXPECT_EQ(pages.bytes().size(), 10'000u);
  EXPECT_TRUE(all_zero(pages.data(), pages.size()));
  const AnonymousPages empty;
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

// The core driver's pattern: growth by 1 MiB steps, each new step zero and the old bytes kept,
// whether the kernel grows the mapping in place or moves it.
TEST(AnonymousPages, GrowingKeepsTheBytesAndGivesZeroes) {
  AnonymousPages pages;
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
TEST(AnonymousPages, ShrinkingThenGrowingZeroesWhatWasGivenBack) {
  AnonymousPages pages(3 * 4096 + 100);
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

TEST(AnonymousPages, MovesOwnershipAndReleases) {
  AnonymousPages a(8192);
  fill(a.data(), a.size(), 9);
  const auto* where = a.data();
  AnonymousPages b(std::move(a));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is documented
  EXPECT_EQ(a.size(), 0u);       // NOLINT(bugprone-use-after-move)
  AnonymousPages c(100);
  c = std::move(b);
  EXPECT_EQ(c.data(), where);
  EXPECT_TRUE(filled(c.data(), 8192, 9));
  c.release();
  EXPECT_EQ(c.data(), nullptr);
  EXPECT_EQ(c.size(), 0u);
  ASSERT_TRUE(c.resize(4096));  // usable again after release
  EXPECT_TRUE(all_zero(c.data(), 4096));
}

TEST(AnonymousPages, RefusesWhatTheKernelCannotMap) {
  AnonymousPages pages(4096);
  fill(pages.data(), 4096, 1);
  EXPECT_FALSE(pages.resize(std::size_t{1} << 62));
  EXPECT_EQ(pages.size(), 4096u);  // unchanged
  EXPECT_TRUE(filled(pages.data(), 4096, 1));
  EXPECT_THROW(AnonymousPages(std::size_t{1} << 62), std::bad_alloc);
}

}  // namespace
}  // namespace lineage::io
