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

bool keep_large_buffers_in_heap() noexcept {
#if defined(__GLIBC__)
  // The largest glibc accepts (half its 64 MiB per-thread heap); the larger buffers are few and
  // long-lived (a unit's pread buffers are kept from unit to unit).
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 64 << 20;  // glibc's own choice for that mmap threshold: twice it
  // mallopt answers 1 on success; setting either fixes it (glibc's dynamic thresholds stop).
  const bool mmap_set = ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  const bool trim_set = ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

bool return_large_buffers_when_freed() noexcept {
#if defined(__GLIBC__)
  constexpr int kMmapThreshold = 1 << 20;
  constexpr int kTrimThreshold = 1 << 20;
  const bool mmap_set = ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  const bool trim_set = ::mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

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
