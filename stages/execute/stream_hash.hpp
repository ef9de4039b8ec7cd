#pragma once
/// @file stream_hash.hpp
/// XXH3-64 of a byte stream fed in pieces, as the compare pass hashes each side of a unit. The
/// digest is XXH3-64 of the concatenated bytes, exactly the library's; only the code that computes
/// it differs: Debian's libxxhash is built for the baseline x86-64 ISA (SSE2), so on a CPU with
/// AVX2 the stream goes through xxHash's own AVX2 code path, inlined from its header
/// (stream_hash_avx2.cpp), chosen once per process. Elsewhere (other CPUs, other compilers) it
/// is the library's.

#include <cstddef>
#include <cstdint>

namespace lineage::stages {

class StreamHash {
 public:
  StreamHash();
  ~StreamHash();
  StreamHash(const StreamHash&) = delete;
  StreamHash& operator=(const StreamHash&) = delete;

  /// Appends `size` bytes to the stream.
  void update(const void* data, std::size_t size);
  /// XXH3-64 (seed 0) of every byte appended so far; the stream can go on after it.
  [[nodiscard]] std::uint64_t digest() const;

 private:
  bool avx2_;
  void* state_;  // an XXH3 state of the library's or of stream_hash_avx2.cpp's build
};

namespace detail {
/// stream_hash_avx2.cpp: whether its AVX2 build exists and the CPU runs it, and that build's
/// state functions (never called when it does not).
bool stream_hash_avx2_usable() noexcept;
void* stream_hash_avx2_create();
void stream_hash_avx2_free(void* state) noexcept;
void stream_hash_avx2_update(void* state, const void* data, std::size_t size) noexcept;
std::uint64_t stream_hash_avx2_digest(const void* state) noexcept;
}  // namespace detail

}  // namespace lineage::stages
