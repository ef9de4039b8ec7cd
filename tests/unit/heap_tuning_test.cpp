#include "core/heap_tuning.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lineage {
namespace {

TEST(HeapTuning, LargeBuffersComeFromTheHeapAndStayThere) {
  const bool tuned = keep_large_buffers_in_heap();
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
  // (A sanitizer's allocator ignores mallopt: nothing to check there.)
  ASSERT_TRUE(tuned);
  // 24 MiB: glibc's dynamic mmap threshold starts at 128 KiB and rises only when a mapped block
  // that large is freed, which this process has not done before the setting; without it the
  // block would be a mapping of its own, unmapped when freed.
  constexpr std::size_t kBytes = std::size_t{24} << 20;
  const auto before = ::mallinfo2();
  {
    const auto block = std::make_unique<std::byte[]>(kBytes);
    EXPECT_EQ(::mallinfo2().hblks, before.hblks) << "the block was mapped on its own";
  }
  EXPECT_GE(::mallinfo2().fordblks, kBytes) << "the freed block was returned to the kernel";
#else
  (void)tuned;
#endif
}

}  // namespace
}  // namespace lineage
