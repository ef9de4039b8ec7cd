// xxHash's AVX2 code path, inlined from its header into this file alone (stream_hash.hpp). The
// whole file below the target pragma is compiled for AVX2 and runs only after the CPU check, so
// every header with inline code it might emit is included before the pragma (their include
// guards keep the AVX2 build from emitting a second copy under the same name).
#include <cstddef>
#include <cstdint>
#include <new>

#include "stages/execute/stream_hash.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <assert.h>
#include <immintrin.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC push_options
#pragma GCC target("avx2")
#define XXH_VECTOR 2  // XXH_AVX2: GCC's target pragma does not define __AVX2__ for the header's test
#include "stages/execute/stream_hash_inline.ipp"
#pragma GCC pop_options

namespace lineage::stages::detail {
const StreamHashBuild* stream_hash_avx2() noexcept {
  static const StreamHashBuild build{"avx2", inline_create, inline_free, inline_update, inline_digest};
  static const bool usable = __builtin_cpu_supports("avx2") != 0;
  return usable ? &build : nullptr;
}
}  // namespace lineage::stages::detail

#else

namespace lineage::stages::detail {
const StreamHashBuild* stream_hash_avx2() noexcept { return nullptr; }
}  // namespace lineage::stages::detail

#endif
