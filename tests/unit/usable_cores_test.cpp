#include "core/usable_cores.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace lineage {
namespace {

TEST(UsableCores, FollowsTheAffinityMaskNotTheNode) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof mask, &mask), 0);
  EXPECT_EQ(usable_cores(), static_cast<std::size_t>(CPU_COUNT(&mask)));
  // A thread narrowed to one core (as a one-core-per-rank allocation narrows a rank) sees one,
  // however many the node has.
  int first = 0;
  while (!CPU_ISSET(first, &mask)) ++first;
  std::size_t seen = 0;
  int set_result = -1;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    set_result = sched_setaffinity(0, sizeof one, &one);
    seen = usable_cores();
  }).join();
  ASSERT_EQ(set_result, 0);
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace lineage
