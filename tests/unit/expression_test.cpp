#include "core/expr/expression.hpp"

#include <gtest/gtest.h>

#include <map>

#include "core/errors.hpp"

namespace lineage::expr {
namespace {

class MapEnv : public Environment {
 public:
  std::map<std::string, Value, std::less<>> values;
  std::optional<Value> lookup(std::string_view name) const override {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

Value eval(const std::string& src, const MapEnv& env) { return Expression(src, "test").evaluate(env); }

TEST(Expression, ArithmeticPrecedenceAndIntegerDivision) {
  MapEnv env;
  env.values["hidden"] = Value{std::int64_t{4096}};
  env.values["heads"] = Value{std::int64_t{32}};
  EXPECT_EQ(eval("hidden / heads", env).as_int(), 128);
  EXPECT_EQ(eval("2 + 3 * 4 - 1", env).as_int(), 13);
  EXPECT_EQ(eval("(2 + 3) * 4", env).as_int(), 20);
  EXPECT_EQ(eval("7 % 4", env).as_int(), 3);
  EXPECT_EQ(eval("-3 + 5", env).as_int(), 2);
  EXPECT_DOUBLE_EQ(eval("1.5 * 2", env).as_double(), 3.0);
  EXPECT_EQ(eval("ceil_div(4097, 128)", env).as_int(), 33);
  EXPECT_EQ(eval("max(3, 9) - min(3, 9)", env).as_int(), 6);
}

TEST(Expression, CoalesceTernaryListsAndPredicates) {
  MapEnv env;
  env.values["layer"] = Value{std::int64_t{3}};
  env.values["dense"] = Value{std::int64_t{1}};
  env.values["types"] = Value{List{Value{std::string("linear")}, Value{std::string("full")}}};
  env.values["nothing"] = Value{};
  EXPECT_EQ(eval("missing ?? 7", env).as_int(), 7);
  EXPECT_EQ(eval("nothing ?? 8", env).as_int(), 8);  // null also falls back
  EXPECT_EQ(eval("dense ?? 9", env).as_int(), 1);
  EXPECT_TRUE(eval("layer >= dense && !contains(missing ?? [], layer)", env).truthy());
  EXPECT_TRUE(eval("types[1] == \"full\"", env).truthy());
  EXPECT_EQ(eval("len(types)", env).as_int(), 2);
  EXPECT_EQ(eval("layer > 2 ? 10 : 20", env).as_int(), 10);
  EXPECT_TRUE(eval("contains([2, 5, 8], 5)", env).truthy());
  EXPECT_FALSE(eval("null != null", env).truthy());
}

TEST(Expression, ErrorsNameTheExpressionAndPosition) {
  MapEnv env;
  try {
    Expression("hidden * (heads", "fam.yaml:tensors[2].shape[0]");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fam.yaml:tensors[2].shape[0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected ')'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Expression("frobnicate(1)", "x"), ConfigError);
  EXPECT_THROW((void)eval("missing + 1", env), MissingName);
  EXPECT_THROW((void)eval("4 / 0", env), ConfigError);
  EXPECT_THROW((void)eval("[1][3]", env), ConfigError);
  EXPECT_TRUE(Expression("a + b", "x").mentions("b"));
  EXPECT_FALSE(Expression("a + b", "x").mentions("c"));
}

}  // namespace
}  // namespace lineage::expr
