#include <gtest/gtest.h>

#include "core/tensor_key.hpp"

namespace lineage {
namespace {

TEST(TensorKeyParse, RoundTripsEveryShapeOfKey) {
  const std::vector<TensorKey> keys{
      {Component::text, TensorRole::embedding},
      {Component::text, TensorRole::attn_q, 3},
      {Component::text, TensorRole::routed_expert, 12, 127, Projection::gate_up},
      {Component::text, TensorRole::attn_q, 0, -1, Projection::none, ParamKind::bias},
      {Component::vision, TensorRole::attn_qkv, 5, -1, Projection::none, ParamKind::weight, 2},
      {Component::mtp, TensorRole::mtp_input_proj, 61},
  };
  for (const auto& k : keys) EXPECT_EQ(parse_tensor_key(to_string(k)), k) << to_string(k);
}

TEST(TensorKeyParse, UnknownPartsDegradeInsteadOfThrowing) {
  const auto k = parse_tensor_key("text/some_future_role/L2/E1/zz");
  EXPECT_EQ(k.role, TensorRole::other);
  EXPECT_EQ(k.layer, 2);
  EXPECT_EQ(k.expert, 1);
  EXPECT_EQ(k.projection, Projection::none);
}

}  // namespace
}  // namespace lineage
