#include "core/heap_tuning.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>  // defines __GLIBC__ where it applies

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lineage {

namespace {

/// glibc's mmap and trim thresholds, in bytes. mallopt answers 1 on success; setting either fixes
/// it (glibc's dynamic thresholds stop). False where the allocator is not glibc's.
bool set_heap_thresholds([[maybe_unused]] int mmap_threshold, [[maybe_unused]] int trim_threshold) noexcept {
#if defined(__GLIBC__)
  const bool mmap_set = ::mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1;
  const bool trim_set = ::mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

}  // namespace

bool keep_large_buffers_in_heap() noexcept {
  // The largest mmap threshold glibc accepts (half its 64 MiB per-thread heap); the larger buffers
  // are few and long-lived (a unit's pread buffers are kept from unit to unit). The trim threshold
  // is glibc's own choice for that mmap threshold: twice it.
  return set_heap_thresholds(32 << 20, 64 << 20);
}

bool return_large_buffers_when_freed() noexcept { return set_heap_thresholds(1 << 20, 1 << 20); }

void advise_huge_pages(void* data, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;  // x86-64's and arm64's (4 KiB base pages)
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const auto first = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const auto last = (begin + bytes) & ~(kHugePage - 1);
  if (data == nullptr || last <= first) return;
  // Only the pages wholly inside the buffer, none shared with a neighbouring allocation. The
  // answer is ignored: EINVAL where the kernel lacks the advice is the same run, only slower.
  (void)::madvise(static_cast<std::byte*>(data) + (first - begin), last - first, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace lineage
