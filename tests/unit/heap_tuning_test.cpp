#include "core/heap_tuning.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

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
  EXPECT_FALSE(tuned);                              // the setting is not taken, and says so
#endif
}

TEST(HeapTuningDeathTest, AfterThePassLargeBuffersAreReturnedWhenFreed) {
#if defined(__GLIBC__) && !defined(LINEAGE_TEST_ASAN)
  // In a process of its own, started afresh: free heap memory other tests left would serve the
  // block below whatever the settings.
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const bool kept = keep_large_buffers_in_heap();
        const bool returned = return_large_buffers_when_freed();
        // 4 MiB: under keep_large_buffers_in_heap alone it comes from the heap and stays there.
        constexpr std::size_t kBytes = std::size_t{4} << 20;
        const auto before = ::mallinfo2();
        bool mapped = false;
        {
          const auto block = std::make_unique<std::byte[]>(kBytes);
          mapped = ::mallinfo2().hblks == before.hblks + 1;
        }
        const bool unmapped = ::mallinfo2().hblks == before.hblks;
        std::fprintf(stderr, "taken %d %d, mapped %d, unmapped when freed %d\n", kept, returned, mapped, unmapped);
        std::exit(kept && returned && mapped && unmapped ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "taken 1 1, mapped 1, unmapped when freed 1");
  GTEST_FLAG_SET(death_test_style, style);
#else
  EXPECT_FALSE(return_large_buffers_when_freed());  // the setting is not taken, and says so
#endif
}

/// The VmFlags of the mapping holding `address` (/proc/self/smaps); empty when none is found.
std::string vm_flags_at(std::uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= address && address < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line.substr(8) + " ";
    }
  }
  return {};
}

TEST(HeapTuning, HugePagesAreAskedForTheWholePagesOfALargeBuffer) {
  constexpr std::size_t kBytes = std::size_t{8} << 20;  // a mapping of its own in a fresh process
  const auto buffer = std::make_unique<std::byte[]>(kBytes);
  advise_huge_pages(buffer.get(), kBytes);
  advise_huge_pages(nullptr, kBytes);        // nothing to advise
  advise_huge_pages(buffer.get() + 1, 100);  // no whole huge page inside
#if defined(__linux__)
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
  const auto first_whole = (reinterpret_cast<std::uintptr_t>(buffer.get()) + kHugePage - 1) & ~(kHugePage - 1);
  // A kernel built with transparent huge pages marks the range "hg" (VM_HUGEPAGE) whatever the
  // system-wide mode; without them the advice is refused and nothing changes.
  const bool kernel_has_them = std::filesystem::exists("/sys/kernel/mm/transparent_hugepage");
  EXPECT_EQ(vm_flags_at(first_whole).find(" hg ") != std::string::npos, kernel_has_them) << vm_flags_at(first_whole);
#endif
}

}  // namespace
}  // namespace lineage
