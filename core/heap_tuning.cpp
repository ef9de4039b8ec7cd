#include "core/heap_tuning.hpp"

#include <cstdlib>  // defines __GLIBC__ where it applies

#if defined(__GLIBC__)
#include <malloc.h>
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

}  // namespace lineage
