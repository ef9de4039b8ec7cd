#include "core/shared_name.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace lineage {
namespace {

TEST(SharedName, CopiesShareOneStringAndCompareByText) {
  const SharedName a = std::string("model.layers.0.mlp.experts.7.up_proj.weight");
  const SharedName copy = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the test
  EXPECT_EQ(&copy.str(), &a.str());
  const SharedName same_text = "model.layers.0.mlp.experts.7.up_proj.weight";
  EXPECT_NE(&same_text.str(), &a.str());
  EXPECT_EQ(same_text, a);
  EXPECT_LT(SharedName("a"), SharedName("b"));
  EXPECT_NE(SharedName("a"), SharedName("b"));
  const std::string& text = a;
  EXPECT_EQ(text, "model.layers.0.mlp.experts.7.up_proj.weight");
  std::ostringstream out;
  out << a;
  EXPECT_EQ(out.str(), text);
  EXPECT_EQ(SharedName().str(), "");
  EXPECT_EQ(SharedName(), SharedName(""));
}

}  // namespace
}  // namespace lineage
