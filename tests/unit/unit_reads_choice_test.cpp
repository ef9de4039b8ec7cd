// --read-units auto (cluster/unit_reads_choice.hpp): a way asked for is kept without a trial;
// otherwise each kind of unit alternates copy and map on units large enough to count, the first
// unit of each way only warming up, and after the trial the way that cost less CPU time per byte
// is kept, mapping only when it is cheaper by more than the margin. CPU times here are made up: the choice is a
// function of what is recorded.
#include "cluster/unit_reads_choice.hpp"

#include <gtest/gtest.h>

#include <vector>

using lineage::UnitReads;
using lineage::cluster::UnitReadsChoice;

namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

/// Runs the trial of one kind of unit, `bytes` each, until a way is kept: each unit read by
/// copying costs `copy_s_per_mib` CPU seconds a MiB, by mapping `map_s_per_mib`. Returns the
/// ways next() gave, in order.
std::vector<UnitReads> run_trial(UnitReadsChoice& choice, double copy_s_per_mib, double map_s_per_mib,
                                 std::uint64_t bytes = 4 * kMiB) {
  std::vector<UnitReads> ways;
  for (int i = 0; i < 100 && !choice.chosen(); ++i) {
    const auto way = choice.next(7, bytes);
    EXPECT_TRUE(choice.in_trial(bytes));
    ways.push_back(way);
    const double per_mib = way == UnitReads::map ? map_s_per_mib : copy_s_per_mib;
    choice.record(7, way, bytes, per_mib * static_cast<double>(bytes / kMiB));
  }
  return ways;
}

}  // namespace

TEST(UnitReadsChoice, AWayAskedForIsKeptWithoutATrial) {
  for (const auto asked : {UnitReads::copy, UnitReads::map}) {
    UnitReadsChoice choice(asked);
    EXPECT_EQ(choice.chosen(), asked);
    EXPECT_FALSE(choice.in_trial(64 * kMiB));
    EXPECT_EQ(choice.next(1, 64 * kMiB), asked);
    EXPECT_EQ(choice.next(1, 10), asked);
    choice.record(1, asked == UnitReads::map ? UnitReads::copy : UnitReads::map, 64 * kMiB, 100.0);
    EXPECT_EQ(choice.next(1, 64 * kMiB), asked);
  }
}

TEST(UnitReadsChoice, EachKindAlternatesFromTheCopyOnUnitsLargeEnoughToCount) {
  UnitReadsChoice choice(UnitReads::automatic);
  EXPECT_FALSE(choice.chosen());
  // Too small to count: copied, and not part of the trial.
  EXPECT_FALSE(choice.in_trial(UnitReadsChoice::kMinTrialBytes - 1));
  EXPECT_EQ(choice.next(1, UnitReadsChoice::kMinTrialBytes - 1), UnitReads::copy);
  // Two kinds interleaved: each alternates on its own.
  const std::uint64_t big = UnitReadsChoice::kMinTrialBytes;
  std::vector<UnitReads> ways_a, ways_b;
  for (int i = 0; i < 4; ++i) {
    ways_a.push_back(choice.next(1, big));
    choice.record(1, ways_a.back(), big, 0.01);
    ways_b.push_back(choice.next(2, big));
    choice.record(2, ways_b.back(), big, 0.01);
  }
  const std::vector<UnitReads> alternating{UnitReads::copy, UnitReads::map, UnitReads::copy, UnitReads::map};
  EXPECT_EQ(ways_a, alternating);
  EXPECT_EQ(ways_b, alternating);
  EXPECT_FALSE(choice.chosen());  // four of each, three counted: the trial wants six
}

TEST(UnitReadsChoice, TheCheaperWayPerByteIsKeptMappingOnlyByTheMargin) {
  {
    UnitReadsChoice choice(UnitReads::automatic);
    const auto ways = run_trial(choice, 1.0, 0.8);
    EXPECT_EQ(ways.size(), 2u * (UnitReadsChoice::kTrialsPerWay + 1));  // and one warm-up each
    EXPECT_EQ(choice.chosen(), UnitReads::map);
    EXPECT_NEAR(choice.copy_seconds_per_gb(), 1e9 / kMiB, 1e-6);
    EXPECT_NEAR(choice.map_seconds_per_gb(), 0.8e9 / kMiB, 1e-6);
    // Kept for the rest of the run, whatever is recorded after.
    EXPECT_FALSE(choice.in_trial(64 * kMiB));
    EXPECT_EQ(choice.next(7, 64 * kMiB), UnitReads::map);
    EXPECT_EQ(choice.next(7, 10), UnitReads::map);
    choice.record(7, UnitReads::map, 64 * kMiB, 1e6);
    EXPECT_EQ(choice.next(7, 64 * kMiB), UnitReads::map);
  }
  {
    UnitReadsChoice choice(UnitReads::automatic);
    (void)run_trial(choice, 1.0, 1.0 - UnitReadsChoice::kMapMargin / 2);  // cheaper, but within the margin
    EXPECT_EQ(choice.chosen(), UnitReads::copy);
  }
  {
    UnitReadsChoice choice(UnitReads::automatic);
    (void)run_trial(choice, 1.0, 1.4);  // mapping dearer (a VM with costly page-table updates)
    EXPECT_EQ(choice.chosen(), UnitReads::copy);
    EXPECT_EQ(choice.next(7, 64 * kMiB), UnitReads::copy);
  }
}

TEST(UnitReadsChoice, CostsArePerByteSoUnitSizesDoNotDecide) {
  // Copied units twice as large as mapped ones, at the same cost per byte as mapping: copy kept
  // (mapping is not cheaper), though the copied units took twice the seconds each.
  UnitReadsChoice choice(UnitReads::automatic);
  for (int i = 0; i < 100 && !choice.chosen(); ++i) {
    const auto way = choice.next(3, 8 * kMiB);
    const std::uint64_t bytes = way == UnitReads::map ? 4 * kMiB : 8 * kMiB;
    choice.record(3, way, bytes, 0.001 * static_cast<double>(bytes / kMiB));
  }
  EXPECT_EQ(choice.chosen(), UnitReads::copy);
  // And the same with the copy dearer per byte: map kept.
  UnitReadsChoice dearer(UnitReads::automatic);
  for (int i = 0; i < 100 && !dearer.chosen(); ++i) {
    const auto way = dearer.next(3, 8 * kMiB);
    const std::uint64_t bytes = way == UnitReads::map ? 8 * kMiB : 4 * kMiB;
    const double per_mib = way == UnitReads::map ? 0.001 : 0.0015;
    dearer.record(3, way, bytes, per_mib * static_cast<double>(bytes / kMiB));
  }
  EXPECT_EQ(dearer.chosen(), UnitReads::map);
}

TEST(UnitReadsChoice, AWayWithItsTrialUnitsLetsTheOtherCatchUp) {
  // Kinds that each appear once: every one starts with the copy, so once six are copied the
  // following trial units are mapped until the map has its six too.
  UnitReadsChoice choice(UnitReads::automatic);
  int copied = 0, mapped = 0;
  for (std::uint64_t kind = 0; kind < 100 && !choice.chosen(); ++kind) {
    const auto way = choice.next(kind, 2 * kMiB);
    (way == UnitReads::map ? mapped : copied) += 1;
    choice.record(kind, way, 2 * kMiB, 0.002);
  }
  EXPECT_EQ(copied, UnitReadsChoice::kTrialsPerWay + 1);
  EXPECT_EQ(mapped, UnitReadsChoice::kTrialsPerWay + 1);
  EXPECT_EQ(choice.chosen(), UnitReads::copy);  // equal costs: the copy stays
}

TEST(UnitReadsChoice, TheFirstUnitReadEachWayOnlyWarmsUp) {
  // The first copy pays for the copy's buffers: counted, it would decide. Here it costs a hundred
  // times the others (counted, the copy would cost 0.151 s a unit against the map's 0.012), and
  // the copy, cheaper after it, is kept.
  UnitReadsChoice choice(UnitReads::automatic);
  bool copy_warm = false;
  for (int i = 0; i < 100 && !choice.chosen(); ++i) {
    const auto way = choice.next(5, 4 * kMiB);
    double seconds = way == UnitReads::map ? 0.012 : 0.010;
    if (way == UnitReads::copy && !copy_warm) seconds *= 100, copy_warm = true;
    choice.record(5, way, 4 * kMiB, seconds);
  }
  EXPECT_EQ(choice.chosen(), UnitReads::copy);
  EXPECT_NEAR(choice.copy_seconds_per_gb(), 0.0025e9 / kMiB, 1e-6);
  EXPECT_NEAR(choice.map_seconds_per_gb(), 0.003e9 / kMiB, 1e-6);
}
