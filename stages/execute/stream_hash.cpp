#include "stages/execute/stream_hash.hpp"

#include <xxhash.h>

#include <new>

namespace lineage::stages {

namespace detail {
namespace {
void* library_create() {
  XXH3_state_t* st = XXH3_createState();
  if (st == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(st);
  return st;
}
void library_free(void* state) noexcept { XXH3_freeState(static_cast<XXH3_state_t*>(state)); }
void library_update(void* state, const void* data, std::size_t size) noexcept {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state), data, size);
}
std::uint64_t library_digest(const void* state) noexcept {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state));
}
}  // namespace

const StreamHashBuild& stream_hash_library() noexcept {
  static const StreamHashBuild build{"library", library_create, library_free, library_update, library_digest};
  return build;
}

std::vector<const StreamHashBuild*> stream_hash_builds() {
  std::vector<const StreamHashBuild*> out{&stream_hash_library()};
  for (const StreamHashBuild* build : {stream_hash_avx2(), stream_hash_avx512()}) {
    if (build != nullptr) out.push_back(build);
  }
  return out;
}
}  // namespace detail

namespace {
/// The widest build, chosen once.
const detail::StreamHashBuild& widest_build() {
  static const detail::StreamHashBuild* const build = detail::stream_hash_builds().back();
  return *build;
}
}  // namespace

StreamHash::StreamHash() : StreamHash(widest_build()) {}

StreamHash::StreamHash(const detail::StreamHashBuild& build) : build_(&build), state_(build.create()) {}

StreamHash::~StreamHash() { build_->free(state_); }

void StreamHash::update(const void* data, std::size_t size) { build_->update(state_, data, size); }

std::uint64_t StreamHash::digest() const { return build_->digest(state_); }

}  // namespace lineage::stages
