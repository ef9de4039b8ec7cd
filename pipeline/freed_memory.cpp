#include "pipeline/freed_memory.hpp"

// Any C library header defines __GLIBC__ on glibc; the test of it needs one first.
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lineage::pipeline {

bool return_freed_memory() noexcept {
#if defined(__GLIBC__)
  (void)::malloc_trim(0);
  return true;
#else
  return false;
#endif
}

}  // namespace lineage::pipeline
