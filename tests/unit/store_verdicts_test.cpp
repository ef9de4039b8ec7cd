#include "stages/verdict/store_verdicts.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace lineage::stages {
namespace {

TEST(StoreVerdicts, EvidenceBesideTheWeightsNeverChangesTheClassOnlyTheNote) {
  const std::vector<BesideEvidence> derived{{"tokenizer", "derived", "extended"}};
  const std::vector<BesideEvidence> against{{"architecture", "against", "5/5 differ"}};
  EXPECT_EQ(context_note(derived, VerdictClass::independent).rfind("conflict:", 0), 0u);
  EXPECT_EQ(context_note(derived, VerdictClass::partial_reuse).rfind("consistent:", 0), 0u);
  EXPECT_NE(context_note(derived, VerdictClass::inconclusive).find("never sufficient on its own"), std::string::npos);
  EXPECT_NE(context_note(against, VerdictClass::derived).find("does not support derivation"), std::string::npos);
  EXPECT_EQ(context_note(against, VerdictClass::independent), "no evidence beside the weights bears on this verdict");
  EXPECT_EQ(context_note({}, VerdictClass::derived), "no evidence beside the weights bears on this verdict");
}

TEST(StoreVerdicts, SummariesSkipNonFiniteValues) {
  EXPECT_FALSE(summarise({}).has_value());
  EXPECT_FALSE(summarise({std::numeric_limits<double>::quiet_NaN()}).has_value());
  const auto s = summarise({1.0, 3.0, std::numeric_limits<double>::infinity(), 2.0});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->n, 3u);
  EXPECT_DOUBLE_EQ(s->mean, 2.0);
  EXPECT_DOUBLE_EQ(s->sd, 1.0);
  EXPECT_EQ(s->min, 1.0);
  EXPECT_EQ(s->max, 3.0);
}

}  // namespace
}  // namespace lineage::stages
