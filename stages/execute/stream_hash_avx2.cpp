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
#define XXH_INLINE_ALL
#define XXH_VECTOR 2  // XXH_AVX2: GCC's target pragma does not define __AVX2__ for the header's test
#include <xxhash.h>

namespace lineage::stages::detail {

void* stream_hash_avx2_create() {
  XXH3_state_t* st = XXH3_createState();
  if (st == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(st);
  return st;
}

void stream_hash_avx2_free(void* state) noexcept { XXH3_freeState(static_cast<XXH3_state_t*>(state)); }

void stream_hash_avx2_update(void* state, const void* data, std::size_t size) noexcept {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, size);
}

std::uint64_t stream_hash_avx2_digest(const void* state) noexcept {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
}

}  // namespace lineage::stages::detail
#pragma GCC pop_options

namespace lineage::stages::detail {
bool stream_hash_avx2_usable() noexcept {
  static const bool usable = __builtin_cpu_supports("avx2") != 0;
  return usable;
}
}  // namespace lineage::stages::detail

#else

namespace lineage::stages::detail {
bool stream_hash_avx2_usable() noexcept { return false; }
void* stream_hash_avx2_create() { throw std::bad_alloc(); }
void stream_hash_avx2_free(void*) noexcept {}
void stream_hash_avx2_update(void*, const void*, std::size_t) noexcept {}
std::uint64_t stream_hash_avx2_digest(const void*) noexcept { return 0; }
}  // namespace lineage::stages::detail

#endif
