#pragma once
/// @file counter_rng.hpp
/// Counter-based random numbers: every value is a pure function of (seed, stream name, index),
/// so any tensor (or any element) can be regenerated independently, in any order, in parallel,
/// and two runs with the same seed produce byte-identical checkpoints.

#include <cstdint>
#include <string_view>

namespace lineage::tools {

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
[[nodiscard]] std::uint64_t splitmix64(std::uint64_t x) noexcept;

/// One independent stream of random numbers, keyed by a seed and a name (e.g. a tensor name).
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::string_view stream) noexcept;
  /// Uniform in (0, 1), never exactly 0 or 1 (safe for log()).
  [[nodiscard]] double uniform(std::uint64_t index) const noexcept;
  /// Standard normal (Box-Muller over two counter draws).
  [[nodiscard]] double normal(std::uint64_t index) const noexcept;
  /// Raw 64 bits.
  [[nodiscard]] std::uint64_t bits(std::uint64_t index) const noexcept;

 private:
  std::uint64_t key_;
};

}  // namespace lineage::tools
