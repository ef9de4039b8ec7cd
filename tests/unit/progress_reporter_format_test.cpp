#include <gtest/gtest.h>

#include "cluster/progress_reporter.hpp"

namespace lineage::cluster {
namespace {

TEST(ProgressFormat, ShowsUnitsBytesRateAndEta) {
  ProgressSnapshot s{12, 40, 1'200'000'000, 3'400'000'000, 1.0, 3};
  EXPECT_EQ(format_progress(s), "units 12/40  1.20 GB/3.40 GB  1.20 GB/s  ETA 2s  (3 ranks)");
  s.bytes_done = s.bytes_total;
  s.units_done = s.units_total;
  s.elapsed_seconds = 125;
  s.ranks = 1;
  EXPECT_EQ(format_progress(s), "units 40/40  3.40 GB/3.40 GB  27.20 MB/s  done in 2m05s  (1 rank)");
}

TEST(ProgressFormat, NamesWhatItCounts) {
  ProgressSnapshot s{12, 40, 1'200'000'000, 3'400'000'000, 1.0, 3};
  s.counted = "units and row blocks";
  EXPECT_EQ(format_progress(s).rfind("units and row blocks 12/40  ", 0), 0u) << format_progress(s);
}

TEST(ProgressFormat, UnknownRateHasUnknownEta) {
  ProgressSnapshot s{0, 5, 0, 100, 0.0, 2};
  EXPECT_NE(format_progress(s).find("ETA ?"), std::string::npos);
}

}  // namespace
}  // namespace lineage::cluster
