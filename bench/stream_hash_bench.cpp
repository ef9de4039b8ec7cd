// The hash of the compare pass (stages/execute/stream_hash.hpp): XXH3-64 of a stream fed in
// 8 KiB pieces (one kernel block of BF16, as pass_block hashes each side), from L1, on every
// build this CPU runs (the library's, AVX2, AVX-512), in alternated rounds; the digests must agree.
// Not part of the test suite.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "stages/execute/stream_hash.hpp"

using namespace lineage::stages;

int main() {
  constexpr std::size_t kPiece = 8192;
  constexpr std::size_t kTotal = std::size_t{2} << 30;  // bytes hashed per build and round
  std::vector<unsigned char> bytes(2 * kPiece);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  const auto builds = detail::stream_hash_builds();
  std::vector<double> rates(builds.size(), 0);
  std::uint64_t first_digest = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t k = 0; k < builds.size(); ++k) {
      StreamHash h(*builds[k]);
      const auto t0 = std::chrono::steady_clock::now();
      for (std::size_t done = 0; done < kTotal; done += kPiece)
        h.update(bytes.data() + (done / kPiece % 2) * kPiece, kPiece);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const std::uint64_t digest = h.digest();
      if (round == 0 && k == 0) first_digest = digest;
      if (digest != first_digest) {
        std::fprintf(stderr, "stream_hash_bench: the %s build's digest differs\n", builds[k]->name);
        return 1;
      }
      rates[k] = std::max(rates[k], static_cast<double>(kTotal) / s / 1e9);
    }
  }
  for (std::size_t k = 0; k < builds.size(); ++k) {
    std::printf("StreamHash, 8 KiB pieces from L1, %s build: fastest of 3 rounds %.1f GB/s (%.2fx the library's)\n",
                builds[k]->name, rates[k], rates[k] / rates[0]);
  }
}
