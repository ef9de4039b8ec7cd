// append_json_object: a document written piece by piece is the bytes its whole object's dump()
// would be (compare stores its verdicts and tensor scan this way).
#include "io/json_text.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/errors.hpp"

namespace lineage::io {
namespace {

nlohmann::json sample_document() {
  return {{"zeta", {1, 2.5, nullptr, "x\"y\\z\n"}},
          {"alpha", {{"nested", {{"b", true}, {"a", -0.0}}}}},
          {"ключ é", "ünïcode"},
          {"list", nlohmann::json::array({nlohmann::json::object(), nlohmann::json::array()})},
          {"number", 1e-300},
          {"big", 18446744073709551615ULL}};
}

TEST(JsonText, AnObjectWrittenPieceByPieceIsItsDump) {
  const auto whole = sample_document();
  // Nothing written by a writer: the object's own dump.
  SpilledText plain = "prefix:";
  append_json_object(plain, whole, {});
  EXPECT_EQ(std::string_view(plain), "prefix:" + whole.dump());

  // Two values written by writers from the values they stand for; the object passed holds
  // placeholders there (what is held in memory is not what is written).
  auto held = whole;
  held["zeta"] = nullptr;
  held["alpha"] = "placeholder";
  SpilledText pieces;
  append_json_object(pieces, held,
                     {{"zeta",
                       [&](SpilledText& out) {
                         out += '[';
                         for (std::size_t i = 0; i < whole["zeta"].size(); ++i) {
                           if (i) out += ',';
                           out += std::string_view(whole["zeta"][i].dump());
                         }
                         out += ']';
                       }},
                      {"alpha", [&](SpilledText& out) { append_json_object(out, whole["alpha"], {}); }}});
  EXPECT_EQ(std::string_view(pieces), whole.dump());
  EXPECT_EQ(nlohmann::json::parse(pieces), whole);
}

TEST(JsonText, AWriterForAKeyTheObjectLacksIsRefused) {
  SpilledText out;
  EXPECT_THROW(append_json_object(out, sample_document(), {{"absent", [](SpilledText& o) { o += "1"; }}}),
               InternalError);
  EXPECT_THROW(append_json_object(out, nlohmann::json::array({1, 2}), {}), InternalError);
}

}  // namespace
}  // namespace lineage::io
