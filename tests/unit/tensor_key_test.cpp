#include "core/tensor_key.hpp"

#include <gtest/gtest.h>

#include "core/dtype.hpp"
#include "core/errors.hpp"

namespace lineage {
namespace {

TEST(TensorKey, RoleNamesRoundTrip) {
  for (int r = 0; r <= static_cast<int>(TensorRole::other); ++r) {
    const auto role = static_cast<TensorRole>(r);
    const auto name = to_string(role);
    ASSERT_NE(name, "?") << r;
    const auto parsed = parse_role(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_FALSE(parse_role("mlp.gate").has_value());
}

TEST(TensorKey, StableStringForm) {
  TensorKey k{Component::text, TensorRole::routed_expert, 3, 17, Projection::gate, ParamKind::weight, -1};
  EXPECT_EQ(to_string(k), "text/routed_expert/L3/E17/gate");
  k.kind = ParamKind::bias;
  EXPECT_EQ(to_string(k), "text/routed_expert/L3/E17/gate:bias");
  TensorKey e{Component::text, TensorRole::embedding};
  EXPECT_EQ(to_string(e), "text/embedding");
}

TEST(TensorKey, HashDistinguishesLayerAndExpert) {
  TensorKeyHash h;
  TensorKey a{Component::text, TensorRole::routed_expert, 1, 2};
  TensorKey b{Component::text, TensorRole::routed_expert, 2, 1};
  EXPECT_NE(h(a), h(b));
}

TEST(Dtype, ParsesSafetensorsAndTorchSpellings) {
  EXPECT_EQ(parse_dtype("BF16"), Dtype::BF16);
  EXPECT_EQ(parse_dtype("F8_E4M3"), Dtype::F8_E4M3);
  EXPECT_FALSE(parse_dtype("bf16").has_value());
  EXPECT_EQ(parse_torch_dtype("bfloat16"), Dtype::BF16);
  EXPECT_EQ(parse_torch_dtype("torch.float16"), Dtype::F16);
  EXPECT_EQ(dtype_size(Dtype::BF16), 2u);
  EXPECT_EQ(dtype_size(Dtype::F8_E5M2), 1u);
}

TEST(Errors, InputErrorNamesFileTensorAndOffset) {
  InputError e("model-00001.safetensors", "offsets overlap", "model.norm.weight", 4096);
  EXPECT_STREQ(e.what(), "model-00001.safetensors: tensor 'model.norm.weight' at byte 4096: offsets overlap");
  EXPECT_EQ(e.exit_code(), ExitCode::input);
}

}  // namespace
}  // namespace lineage
