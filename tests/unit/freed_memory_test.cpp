#include "pipeline/freed_memory.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace lineage::pipeline {
namespace {

// On glibc the memory is given back: the function must see the C library it was built with (a
// test of __GLIBC__ before any C library header is included is always false).
TEST(FreedMemory, GivenBackWhereTheCLibraryCan) {
#if defined(__GLIBC__)
  EXPECT_TRUE(return_freed_memory());
#else
  EXPECT_FALSE(return_freed_memory());
#endif
}

}  // namespace
}  // namespace lineage::pipeline
