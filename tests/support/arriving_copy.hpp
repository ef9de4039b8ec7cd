#pragma once
/// @file arriving_copy.hpp
/// What a rank gives the pass when it copies a side as the pass reaches it
/// (stages::ArrivingBytes): a span whose bytes past those asked for are 0xff (NaN in BF16 and
/// F32, so a byte read before it was asked for changes the outcome), and a function that copies
/// exactly up to each end asked and records the ends.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace lineage::testing {

struct ArrivingCopy {
  explicit ArrivingCopy(std::span<const std::byte> stored_bytes)
      : stored(stored_bytes), span(stored_bytes.size(), std::byte{0xff}) {}
  ArrivingCopy(const ArrivingCopy&) = delete;
  ArrivingCopy& operator=(const ArrivingCopy&) = delete;

  /// The function the pass asks with: fails the test on an end past the span or smaller than one
  /// asked before (ArrivingBytes' promise).
  std::function<void(std::uint64_t)> ask() {
    return [this](std::uint64_t end) {
      EXPECT_LE(end, span.size());
      const std::uint64_t copied = asked.empty() ? 0 : asked.back();
      EXPECT_GE(end, copied) << "an end smaller than one asked before";
      end = std::clamp<std::uint64_t>(end, copied, span.size());
      std::copy(stored.begin() + static_cast<std::ptrdiff_t>(copied), stored.begin() + static_cast<std::ptrdiff_t>(end),
                span.begin() + static_cast<std::ptrdiff_t>(copied));
      asked.push_back(end);
    };
  }

  std::span<const std::byte> stored;
  std::vector<std::byte> span;
  std::vector<std::uint64_t> asked;
};

}  // namespace lineage::testing
