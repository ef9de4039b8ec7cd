#pragma once
/// @file stream_hash.hpp
/// XXH3-64 of a byte stream fed in pieces, as the compare pass hashes each side of a unit. The
/// digest is XXH3-64 of the concatenated bytes, exactly the library's; only the code that computes
/// it differs: Debian's libxxhash is built for the baseline x86-64 ISA (SSE2), so on a CPU with
/// AVX-512 or AVX2 the stream goes through xxHash's own code path for it, inlined from its header
/// (stream_hash_avx512.cpp, stream_hash_avx2.cpp), the widest the CPU runs, chosen once per
/// process. Elsewhere (other CPUs, other compilers) it is the library's.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lineage::stages {

namespace detail {
/// One build of XXH3's streaming functions over an opaque state.
struct StreamHashBuild {
  const char* name;
  void* (*create)();  // a reset state; throws std::bad_alloc
  void (*free)(void* state) noexcept;
  void (*update)(void* state, const void* data, std::size_t size) noexcept;
  std::uint64_t (*digest)(const void* state) noexcept;
};

/// The library's build (always there).
const StreamHashBuild& stream_hash_library() noexcept;
/// stream_hash_avx2.cpp's and stream_hash_avx512.cpp's builds, or nullptr where the build does
/// not exist or the CPU cannot run it.
const StreamHashBuild* stream_hash_avx2() noexcept;
const StreamHashBuild* stream_hash_avx512() noexcept;
/// Every build this machine runs, the library's first and the one StreamHash() takes last.
std::vector<const StreamHashBuild*> stream_hash_builds();
}  // namespace detail

class StreamHash {
 public:
  /// The widest build the CPU runs.
  StreamHash();
  /// A given build (one of detail::stream_hash_builds()).
  explicit StreamHash(const detail::StreamHashBuild& build);
  ~StreamHash();
  StreamHash(const StreamHash&) = delete;
  StreamHash& operator=(const StreamHash&) = delete;

  /// Appends `size` bytes to the stream.
  void update(const void* data, std::size_t size);
  /// XXH3-64 (seed 0) of every byte appended so far; the stream can go on after it.
  [[nodiscard]] std::uint64_t digest() const;

 private:
  const detail::StreamHashBuild* build_;
  void* state_;  // an XXH3 state of build_'s
};

}  // namespace lineage::stages
