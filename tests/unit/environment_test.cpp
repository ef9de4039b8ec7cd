#include "pipeline/environment.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"

namespace lineage::pipeline {
namespace {

TEST(Environment, WholeNumberSettingKeepsItsLeastAndNamesItsVariable) {
  EXPECT_EQ(whole_number_of("0", "V", 0), 0u);
  EXPECT_EQ(whole_number_of("18446744073709551615", "V", 0), 18446744073709551615u);
  for (const char* bad : {"18446744073709551616", "+1", " 1", "1 ", "-0", "1e3", ""})
    EXPECT_THROW((void)whole_number_of(bad, "V", 0), ConfigError) << bad;
  try {
    (void)whole_number_of("2", "LINEAGE_SOMETHING", 3);
    ADD_FAILURE() << "2 is less than 3";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("LINEAGE_SOMETHING"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at least 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lineage::pipeline
