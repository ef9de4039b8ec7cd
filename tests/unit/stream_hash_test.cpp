// StreamHash (stages/execute/stream_hash.hpp): XXH3-64 of the concatenated bytes however the
// stream is cut, equal to the library's one-shot XXH3_64bits (the journal's resume check and
// every stored hash rely on it), on every build the CPU runs (the library's, AVX2, AVX-512).
#include "stages/execute/stream_hash.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <vector>

namespace lineage::stages {
namespace {

TEST(StreamHash, EqualsOneShotXxh3ForAnySplit) {
  std::mt19937_64 rng(3);
  std::vector<unsigned char> bytes(3 << 20);
  for (auto& c : bytes) c = static_cast<unsigned char>(rng());
  // Lengths around XXH3's internal boundaries (16, 128, 240 bytes, its 256-byte buffer, 1 KB
  // stripes blocks) and long streams cut at random points.
  std::vector<std::size_t> lengths = {0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 256, 257, 1024, 1025, 4095, 8192};
  for (int i = 0; i < 40; ++i) lengths.push_back(static_cast<std::size_t>(rng() % bytes.size()));
  for (const auto* build : detail::stream_hash_builds()) {
    for (const auto n : lengths) {
      StreamHash whole(*build), pieces(*build);
      whole.update(bytes.data(), n);
      for (std::size_t i = 0; i < n;) {
        const auto k = std::min<std::size_t>(n - i, static_cast<std::size_t>(rng() % 9000));
        pieces.update(bytes.data() + i, k);
        i += k;
      }
      const auto want = XXH3_64bits(bytes.data(), n);
      EXPECT_EQ(whole.digest(), want) << n << " bytes in one update, " << build->name;
      EXPECT_EQ(pieces.digest(), want) << n << " bytes in pieces, " << build->name;
    }
    std::cout << "StreamHash: " << build->name << " build checked\n";
  }
}

TEST(StreamHash, TakesTheWidestBuildTheCpuRuns) {
  const auto builds = detail::stream_hash_builds();
  ASSERT_FALSE(builds.empty());
  EXPECT_EQ(builds.front(), &detail::stream_hash_library());
  // The widest the CPU runs: AVX-512 where it has it, else AVX2 (GCC on x86-64 builds both).
  const auto* widest = detail::stream_hash_avx512() ? detail::stream_hash_avx512() : detail::stream_hash_avx2();
  EXPECT_EQ(builds.back(), widest != nullptr ? widest : &detail::stream_hash_library());
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  EXPECT_EQ(detail::stream_hash_avx2() != nullptr, __builtin_cpu_supports("avx2") != 0);
  EXPECT_EQ(detail::stream_hash_avx512() != nullptr, __builtin_cpu_supports("avx512f") != 0);
#endif
}

TEST(StreamHash, DigestLeavesTheStreamGoing) {
  const std::vector<unsigned char> bytes(1000, 7);
  StreamHash h;
  h.update(bytes.data(), 500);
  EXPECT_EQ(h.digest(), XXH3_64bits(bytes.data(), 500));
  h.update(bytes.data() + 500, 500);
  EXPECT_EQ(h.digest(), XXH3_64bits(bytes.data(), 1000));
}

}  // namespace
}  // namespace lineage::stages
