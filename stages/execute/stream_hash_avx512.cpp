// xxHash's AVX-512 code path, inlined from its header into this file alone (stream_hash.hpp). The
// whole file below the target pragma is compiled for AVX-512 (F) and runs only after the CPU check, so
// every header with inline code it might emit is included before the pragma (their include
// guards keep the AVX-512 build from emitting a second copy under the same name).
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
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
// GCC 12 warns that the intrinsics' own _mm512_undefined_* values may be used uninitialized
// (GCC bug 105593, fixed in 13): a false positive inside avx512fintrin.h.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define XXH_VECTOR 3  // XXH_AVX512: GCC's target pragma does not define __AVX512F__ for the header's test
#include "stages/execute/stream_hash_inline.ipp"
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace lineage::stages::detail {
const StreamHashBuild* stream_hash_avx512() noexcept {
  static const StreamHashBuild build{"avx512", inline_create, inline_free, inline_update, inline_digest};
  static const bool usable = __builtin_cpu_supports("avx512f") != 0;
  return usable ? &build : nullptr;
}
}  // namespace lineage::stages::detail

#else

namespace lineage::stages::detail {
const StreamHashBuild* stream_hash_avx512() noexcept { return nullptr; }
}  // namespace lineage::stages::detail

#endif
