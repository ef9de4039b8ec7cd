#include "tools/synth/counter_rng.hpp"

#include <cmath>
#include <numbers>

namespace lineage::tools {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

namespace {
// FNV-1a: a stable (compiler- and platform-independent) hash of the stream name; std::hash is
// not guaranteed stable across library versions, which would break reproducibility.
std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}
}  // namespace

CounterRng::CounterRng(std::uint64_t seed, std::string_view stream) noexcept
    : key_(splitmix64(splitmix64(seed) ^ fnv1a(stream))) {}

std::uint64_t CounterRng::bits(std::uint64_t index) const noexcept { return splitmix64(key_ + splitmix64(index)); }

double CounterRng::uniform(std::uint64_t index) const noexcept {
  // 53 random bits, offset by half an ulp so the result is never 0 or 1.
  return (static_cast<double>(bits(index) >> 11) + 0.5) * 0x1.0p-53;
}

double CounterRng::normal(std::uint64_t index) const noexcept {
  const double u1 = uniform(2 * index);
  const double u2 = uniform(2 * index + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace lineage::tools
