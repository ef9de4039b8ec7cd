#include "pipeline/stop_signal.hpp"

#include <gtest/gtest.h>

namespace lineage::pipeline {
namespace {

TEST(StopSignal, UsrOneAndTermSetTheFlagInsteadOfKilling) {
  install_stop_handlers();
  reset_stop_request();
  EXPECT_FALSE(stop_requested());
  std::raise(SIGUSR1);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal_number(), SIGUSR1);
  reset_stop_request();
  std::raise(SIGTERM);
  EXPECT_EQ(stop_signal_number(), SIGTERM);
  reset_stop_request();
  restore_stop_handlers();
}

}  // namespace
}  // namespace lineage::pipeline
