#include "cluster/progress_reporter.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace lineage::cluster {
namespace {

TEST(MpiProgress, RootSeesEveryRanksFinalCounters) {
  auto world = Communicator::world();
  std::ostringstream out;
  ProgressOptions opt;
  opt.send_interval = std::chrono::milliseconds(0);
  opt.print_interval = std::chrono::milliseconds(0);
  const std::uint64_t r = static_cast<std::uint64_t>(world.rank());
  ProgressReporter progress(world, r + 1, 1000 * (r + 1), opt, out);
  for (std::uint64_t u = 1; u <= r + 1; ++u) progress.update(u, 1000 * u);
  const auto snap = progress.finish();
  if (world.is_root()) {
    const std::uint64_t n = static_cast<std::uint64_t>(world.size());
    EXPECT_EQ(snap.units_total, n * (n + 1) / 2);
    EXPECT_EQ(snap.units_done, snap.units_total);
    EXPECT_EQ(snap.bytes_done, 1000 * n * (n + 1) / 2);
    EXPECT_NE(out.str().find("units " + std::to_string(snap.units_total) + "/"), std::string::npos) << out.str();
  } else {
    EXPECT_TRUE(out.str().empty());  // only rank 0 prints
  }
}

TEST(MpiProgress, QuietPrintsNothing) {
  auto world = Communicator::world();
  std::ostringstream out;
  ProgressOptions opt;
  opt.quiet = true;
  ProgressReporter progress(world, 1, 10, opt, out);
  progress.update(1, 10);
  (void)progress.finish();
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace lineage::cluster
