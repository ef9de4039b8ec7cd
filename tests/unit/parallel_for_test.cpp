#include "core/parallel_for.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
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
  // Index 5 fails last in time where there are two threads (it waits until index 63 has failed),
  // yet its failure is the one reported, as a loop in index order meets it first; the other
  // indices still run. (On one core the calls run in order and 5 stops waiting after 200 ms.)
  for (int round = 0; round < 5; ++round) {
    std::vector<std::atomic<int>> calls(64);
    std::atomic<bool> last_failed{false};
    try {
      parallel_for(calls.size(), [&](std::size_t i) {
        ++calls[i];
        if (i == 5) {
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
          while (!last_failed && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        }
        if (i == 63) last_failed = true;
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
