#include "stages/execute/stream_hash.hpp"

#include <xxhash.h>

#include <new>

namespace lineage::stages {

StreamHash::StreamHash() : avx2_(detail::stream_hash_avx2_usable()) {
  if (avx2_) {
    state_ = detail::stream_hash_avx2_create();
  } else {
    XXH3_state_t* st = XXH3_createState();
    if (st == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(st);
    state_ = st;
  }
}

StreamHash::~StreamHash() {
  if (avx2_) {
    detail::stream_hash_avx2_free(state_);
  } else {
    XXH3_freeState(static_cast<XXH3_state_t*>(state_));
  }
}

void StreamHash::update(const void* data, std::size_t size) {
  if (avx2_) {
    detail::stream_hash_avx2_update(state_, data, size);
  } else {
    XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data, size);
  }
}

std::uint64_t StreamHash::digest() const {
  return avx2_ ? detail::stream_hash_avx2_digest(state_) : XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_));
}

}  // namespace lineage::stages
