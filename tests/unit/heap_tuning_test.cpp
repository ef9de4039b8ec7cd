#include "core/heap_tuning.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// AddressSanitizer replaces malloc and ignores mallopt. GCC says so by __SANITIZE_ADDRESS__,
// clang (14) only by __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define LINEAGE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LINEAGE_TEST_ASAN 1
#endif
#endif

namespace lineage {
namespace {

TEST(HeapTuning, LargeBuffersComeFromTheHeapAndStayThere) {
  const bool tuned = keep_large_buffers_in_heap();
#if defined(__GLIBC__) && !defined(LINEAGE_TEST_ASAN)
  ASSERT_TRUE(tuned);
  // 24 MiB: glibc's dynamic mmap threshold starts at 128 KiB and rises only when a mapped block
  // that large is freed; without the setting (in a process that freed none so large) the block
  // would be a mapping of its own, unmapped when freed.
  constexpr std::size_t kBytes = std::size_t{24} << 20;
  const auto before = ::mallinfo2();
  {
    const auto block = std::make_unique<std::byte[]>(kBytes);
    EXPECT_EQ(::mallinfo2().hblks, before.hblks) << "the block was mapped on its own";
  }
  EXPECT_GE(::mallinfo2().fordblks, kBytes) << "the freed block was returned to the kernel";
#else
  EXPECT_FALSE(tuned);  // the setting is not taken, and says so
#endif
}

}  // namespace
}  // namespace lineage
