#pragma once
/// @file plain_pass.hpp
/// The plain summing pass the benchmarks measure lineage against: 64-bit words summed into four
/// independent sums, as little work per byte as a pass can do (bench_read_bandwidth,
/// bench_screen_pass).

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lineage::bench {

/// The sum of the 64-bit words of [p, p + n), bytes past the last whole 32 added one by one.
inline std::uint64_t sum_words(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + i, 32);
    s0 += w[0], s1 += w[1], s2 += w[2], s3 += w[3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

}  // namespace lineage::bench
