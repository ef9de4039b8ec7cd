#include "core/parallel_for.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

namespace lineage {
namespace {

TEST(ParallelFor, CallsEveryIndexOnce) {
  std::vector<std::atomic<int>> calls(1000);
  parallel_for(calls.size(), [&](std::size_t i) { ++calls[i]; });
  for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
  parallel_for(0, [](std::size_t) { FAIL() << "no index to call"; });
}

TEST(ParallelFor, RethrowsTheLowestIndexsFailureAfterEveryCall) {
  // Whichever thread fails first, the failure reported is the one a loop in index order meets
  // first, and the other indices still run.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::atomic<int>> calls(64);
    try {
      parallel_for(calls.size(), [&](std::size_t i) {
        ++calls[i];
        if (i == 5 || i == 40 || i == 63) throw std::runtime_error("index " + std::to_string(i));
      });
      FAIL() << "no failure rethrown";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "index 5");
    }
    for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
  }
}

}  // namespace
}  // namespace lineage
