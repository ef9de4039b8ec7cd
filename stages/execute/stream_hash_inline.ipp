// xxHash's streaming XXH3-64 over an opaque state, inlined from its header: included by
// stream_hash_avx2.cpp and stream_hash_avx512.cpp, each after its target pragma and XXH_VECTOR, so
// each file's copy is compiled for its ISA (XXH_INLINE_ALL makes every function static: the two
// copies never meet). Defines inline_create, inline_free, inline_update and inline_digest, the
// functions of a StreamHashBuild. The including file provides <new>, <cstddef> and <cstdint>, and
// every header xxhash.h includes, before its pragma.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace {

void* inline_create() {
  XXH3_state_t* st = XXH3_createState();
  if (st == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(st);
  return st;
}

void inline_free(void* state) noexcept { XXH3_freeState(static_cast<XXH3_state_t*>(state)); }

void inline_update(void* state, const void* data, std::size_t size) noexcept {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, size);
}

std::uint64_t inline_digest(const void* state) noexcept {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
}

}  // namespace
