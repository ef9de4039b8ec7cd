#include "cluster/communicator.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace lineage::cluster {
namespace {

TEST(MpiCommunicator, RankAndSizeAreConsistent) {
  auto world = Communicator::world();
  EXPECT_GE(world.rank(), 0);
  EXPECT_LT(world.rank(), world.size());
  EXPECT_EQ(world.sum(1), static_cast<std::uint64_t>(world.size()));
}

TEST(MpiCommunicator, GatherReturnsEveryRanksBytesInRankOrder) {
  auto world = Communicator::world();
  // Uneven payloads (rank r sends r+1 bytes) catch displacement mistakes.
  std::string mine(static_cast<std::size_t>(world.rank() + 1), static_cast<char>('a' + world.rank()));
  const auto all = world.gather({reinterpret_cast<const std::byte*>(mine.data()), mine.size()}, 0);
  if (world.is_root()) {
    ASSERT_EQ(all.size(), static_cast<std::size_t>(world.size()));
    for (int r = 0; r < world.size(); ++r) {
      const auto& got = all[static_cast<std::size_t>(r)];
      ASSERT_EQ(got.size(), static_cast<std::size_t>(r + 1));
      EXPECT_EQ(static_cast<char>(got[0]), static_cast<char>('a' + r));
    }
  } else {
    EXPECT_TRUE(all.empty());
  }
}

/// Rank r's share in gather number `round`: 1000 (r + 1) bytes of one value, none for the last
/// rank of several (a rank with nothing to send).
std::vector<std::byte> share_of(int rank, int ranks, int round) {
  const auto size = rank == ranks - 1 && ranks > 1 ? 0 : 1000 * (rank + 1);
  return std::vector<std::byte>(static_cast<std::size_t>(size), static_cast<std::byte>('a' + rank + 8 * round));
}

/// Whether `all` holds every rank's share of `round` in rank order. Called from the test's body
/// with no ASSERT there: a rank that left the test early would leave the others waiting in the
/// next gather (this helper's ASSERT returns from the helper only).
void expect_shares(const std::vector<std::vector<std::byte>>& all, int ranks, int round) {
  ASSERT_EQ(all.size(), static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r)
    EXPECT_EQ(all[static_cast<std::size_t>(r)], share_of(r, ranks, round)) << "rank " << r;
}

TEST(MpiCommunicator, GatherOfOwnedSharesKeepsTheRootsOwnWhereItLies) {
  auto world = Communicator::world();
  // Roots first and last, both overloads, and two gathers to one root back to back (each rank's
  // shares must arrive in the order sent, never one gather's in the other's).
  int round = 0;
  for (const int root : {0, world.size() - 1, world.size() - 1}) {
    ++round;
    auto mine = share_of(world.rank(), world.size(), round);
    const auto* where = mine.data();
    const bool empty = mine.empty();
    const auto all = world.gather(std::move(mine), root);
    EXPECT_TRUE(mine.empty());  // NOLINT(bugprone-use-after-move): given up, on every rank
    if (world.rank() != root) {
      EXPECT_TRUE(all.empty());
    } else {
      expect_shares(all, world.size(), round);
      // The root's own share was moved in, not copied.
      if (!empty && all.size() == static_cast<std::size_t>(world.size())) {
        EXPECT_EQ(all[static_cast<std::size_t>(root)].data(), where);
      }
    }
    ++round;
    const auto kept = share_of(world.rank(), world.size(), round);
    const auto copied = world.gather(std::span<const std::byte>(kept), root);
    if (world.rank() != root) {
      EXPECT_TRUE(copied.empty());
    } else {
      expect_shares(copied, world.size(), round);
    }
  }
}

TEST(MpiCommunicator, GatherCarriesASharePastMpisIntCount) {
  auto world = Communicator::world();
  if (world.size() < 2) return;  // one rank sends nothing: the test needs a second
  // The last rank's share is over 2^31 bytes, which one MPI message's int count cannot carry; the
  // others send a few bytes. Marked at its ends and at the pieces' seam (1 GiB).
  constexpr std::size_t big = (std::size_t{1} << 31) + 5;
  const bool sender = world.rank() == world.size() - 1;
  std::vector<std::byte> mine(sender ? big : 3, std::byte{1});
  if (sender) {
    mine.front() = std::byte{2};
    mine[(std::size_t{1} << 30) - 1] = std::byte{3};
    mine[std::size_t{1} << 30] = std::byte{4};
    mine.back() = std::byte{5};
  }
  const auto all = world.gather(std::move(mine), 0);
  if (!world.is_root()) return;
  ASSERT_EQ(all.size(), static_cast<std::size_t>(world.size()));
  const auto& got = all.back();
  ASSERT_EQ(got.size(), big);
  EXPECT_EQ(got.front(), std::byte{2});
  EXPECT_EQ(got[(std::size_t{1} << 30) - 1], std::byte{3});
  EXPECT_EQ(got[std::size_t{1} << 30], std::byte{4});
  EXPECT_EQ(got[got.size() / 2 + 7], std::byte{1});
  EXPECT_EQ(got.back(), std::byte{5});
  EXPECT_EQ(all.front().size(), 3u);
}

TEST(MpiCommunicator, AnyAgreesOnOneRanksFailure) {
  auto world = Communicator::world();
  const bool last_fails = world.rank() == world.size() - 1;
  EXPECT_TRUE(world.any(last_fails));
  EXPECT_FALSE(world.any(false));
}

TEST(MpiCommunicator, BroadcastAndSplit) {
  auto world = Communicator::world();
  std::string msg = world.is_root() ? "plan-v1" : "";
  const auto got = world.broadcast({reinterpret_cast<const std::byte*>(msg.data()), msg.size()}, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), "plan-v1");
  auto halves = world.split(world.rank() % 2, world.rank());
  EXPECT_EQ(halves.rank(), world.rank() / 2);
  EXPECT_DOUBLE_EQ(world.max(static_cast<double>(world.rank())), world.size() - 1.0);
}

TEST(MpiCommunicator, SerialStandInNeedsNoMpi) {
  auto solo = Communicator::self_only();
  EXPECT_EQ(solo.size(), 1);
  EXPECT_TRUE(solo.any(true));
  EXPECT_EQ(solo.gather(std::span<const std::byte>{}, 0).size(), 1u);
  std::vector<std::byte> mine(10, std::byte{7});
  const auto* where = mine.data();
  const auto all = solo.gather(std::move(mine), 0);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].data(), where);
}

}  // namespace
}  // namespace lineage::cluster
