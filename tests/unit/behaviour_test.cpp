// lineage behaviour (METHODS §9): the count tests against known values, and the whole test on
// constructed outputs whose answer is known (parent reused, independent, too few controls).
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <random>

#include "core/errors.hpp"
#include "io/behaviour_outputs.hpp"
#include "stages/behaviour/behaviour_match.hpp"
#include "stages/behaviour/proportion_tests.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

using namespace lineage::stages;

TEST(ProportionTests, KnownValues) {
  // Pooled z: 60/100 vs 40/100 -> z = 0.2 / sqrt(0.25 * 0.02) = 2.8284, p = 0.0046777.
  const auto [z, p] = two_proportion_z(60, 100, 40, 100);
  EXPECT_NEAR(z, 2.8284271, 1e-6);
  EXPECT_NEAR(p, 0.0046777, 1e-6);
  EXPECT_EQ(two_proportion_z(0, 10, 0, 10).second, 1.0);
  // Fisher (R fisher.test): the lady tasting tea, and a classic small table.
  EXPECT_NEAR(fisher_exact_two_sided(3, 1, 1, 3), 0.4857143, 1e-6);
  EXPECT_NEAR(fisher_exact_two_sided(1, 9, 11, 3), 0.002759456, 1e-8);
  EXPECT_NEAR(fisher_exact_two_sided(5, 5, 5, 5), 1.0, 1e-12);
  // Exact McNemar: b = 10, c = 2 -> 2 * P(X <= 2 | n = 12, 1/2) = 2 * 79 / 4096.
  EXPECT_NEAR(mcnemar_exact(10, 2), 2.0 * 79.0 / 4096.0, 1e-12);
  EXPECT_DOUBLE_EQ(mcnemar_exact(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(mcnemar_exact(3, 3), 1.0);
  // Holm: sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, max(0.06, 0.04) = 0.06; original order kept.
  const auto h = holm_adjust({0.01, 0.04, 0.03});
  EXPECT_NEAR(h[0], 0.03, 1e-12);
  EXPECT_NEAR(h[1], 0.06, 1e-12);
  EXPECT_NEAR(h[2], 0.06, 1e-12);
  EXPECT_EQ(holm_adjust({0.9, 0.8})[0], 1.0);
  // Wilson 95%: 0/10 -> [0, 0.2775]; 5/10 -> [0.2366, 0.7634].
  EXPECT_NEAR(wilson_interval(0, 10).second, 0.2775, 1e-4);
  EXPECT_NEAR(wilson_interval(5, 10).first, 0.2366, 1e-4);
  EXPECT_NEAR(wilson_interval(5, 10).second, 0.7634, 1e-4);
}

/// Outputs of n prompts: the suspect's answer is copied from `source` with probability
/// `agree`, otherwise drawn from a 200-word vocabulary.
struct World {
  std::mt19937_64 rng{12345};
  std::size_t n;
  explicit World(std::size_t prompts) : n(prompts) {}
  io::ModelOutputs random_model(const std::string& name) {
    io::ModelOutputs m;
    m.path = name;
    for (std::size_t i = 0; i < n; ++i)
      m.outputs.emplace_back("p" + std::to_string(i), "w" + std::to_string(rng() % 200));
    return m;
  }
  io::ModelOutputs follow(const io::ModelOutputs& source, double agree, const std::string& name) {
    io::ModelOutputs m = random_model(name);
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (u(rng) < agree) m.outputs[i].second = source.outputs[i].second;
    }
    return m;
  }
};

std::vector<BehaviourCandidate> candidates(io::ModelOutputs parent, std::vector<io::ModelOutputs> controls) {
  std::vector<BehaviourCandidate> c{{"parent", true, std::move(parent)}};
  int i = 0;
  for (auto& m : controls) c.push_back({"control" + std::to_string(++i), false, std::move(m)});
  return c;
}

TEST(BehaviourTest, ParentReusedIsDetectedAgainstThreeControls) {
  World w(2000);
  const auto parent = w.random_model("parent");
  const auto suspect = w.follow(parent, 0.6, "suspect");
  const auto r =
      test_behaviour(suspect, candidates(parent, {w.random_model("c1"), w.random_model("c2"), w.random_model("c3")}));
  EXPECT_EQ(r.prompts, 2000u);
  EXPECT_EQ(r.best, "parent");
  EXPECT_EQ(r.conclusion, "derived_from_parent");
  ASSERT_EQ(r.tests.size(), 3u);
  for (const auto& t : r.tests) {
    EXPECT_TRUE(t.rejected);
    EXPECT_LT(t.p_holm, 1e-12);
    EXPECT_LT(t.p_mcnemar_holm, 1e-12);
    EXPECT_FALSE(t.fisher);
  }
  EXPECT_NEAR(r.rates[0].rate, 0.6 + 0.4 / 200, 0.03);
}

TEST(BehaviourTest, IndependentSuspectIsNotAttributed) {
  World w(2000);
  const auto parent = w.random_model("parent");
  const auto suspect = w.random_model("suspect");
  const auto r =
      test_behaviour(suspect, candidates(parent, {w.random_model("c1"), w.random_model("c2"), w.random_model("c3")}));
  EXPECT_NE(r.conclusion, "derived_from_parent");
  // Match rates sit at chance (1/200); with counts this small Fisher's exact test is used.
  for (const auto& c : r.rates) EXPECT_LT(c.rate, 0.02);
}

TEST(BehaviourTest, ClosestControlAndTooFewControls) {
  World w(1000);
  const auto parent = w.random_model("parent");
  const auto teacher = w.random_model("teacher");
  const auto suspect = w.follow(teacher, 0.5, "suspect");
  auto r = test_behaviour(suspect, candidates(parent, {teacher, w.random_model("c2"), w.random_model("c3")}));
  EXPECT_EQ(r.conclusion, "closest_is_control");
  EXPECT_EQ(r.best, "control1");

  const auto derived = w.follow(parent, 0.5, "derived");
  r = test_behaviour(derived, candidates(parent, {w.random_model("c1")}));
  EXPECT_EQ(r.conclusion, "too_few_controls");
  r = test_behaviour(derived, candidates(parent, {}));
  EXPECT_EQ(r.conclusion, "no_controls");
  EXPECT_TRUE(r.tests.empty());
  EXPECT_GT(r.rates[0].wilson_low, 0.4);
}

TEST(BehaviourTest, OnlyPromptsAnsweredByEveryModelCount) {
  World w(100);
  const auto parent = w.random_model("parent");
  auto suspect = w.follow(parent, 1.0, "suspect");
  auto c1 = w.random_model("c1");
  c1.outputs.resize(80);
  const auto r = test_behaviour(suspect, candidates(parent, {c1, w.random_model("c2"), w.random_model("c3")}));
  EXPECT_EQ(r.prompts, 80u);
  EXPECT_EQ(r.rates[0].matches, 80u);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("20 of the suspect's prompts"), std::string::npos);
}

TEST(BehaviourOutputs, ReadsJsonLinesAndRejectsBadLines) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
    return dir.path() / name;
  };
  const auto ok = io::read_model_outputs(
      write("a.jsonl", "{\"prompt_id\": 1, \"output\": \"  Paris\\n\"}\n\n{\"id\": \"q2\", \"tokens\": [5, 7]}\n"));
  ASSERT_EQ(ok.outputs.size(), 2u);
  EXPECT_EQ(ok.outputs[0], (std::pair<std::string, std::string>{"1", "Paris"}));
  EXPECT_EQ(ok.outputs[1], (std::pair<std::string, std::string>{"q2", "5 7"}));
  for (const auto& bad :
       {"{\"prompt_id\": 1, \"output\": \"a\"}\n{\"prompt_id\": 1, \"output\": \"b\"}\n", "{\"prompt_id\": 1}\n",
        "{\"output\": \"x\"}\n", "{\"prompt_id\": 1, \"output\": \"a\"}\n{oops\n", ""}) {
    const auto f = write("bad.jsonl", bad);
    try {
      (void)io::read_model_outputs(f);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), f.string());
    }
  }
}

// A malformed line is named by its number and its byte offset in the file, and its text (which
// may be anything) is never echoed; a line nested too deep is refused like any outside JSON.
TEST(BehaviourOutputs, AMalformedLineIsPlacedAndNotEchoed) {
  testing::TempDir dir;
  const auto path = dir.path() / "out.jsonl";
  const std::string first = "{\"prompt_id\": 1, \"output\": \"a\"}\n";
  std::ofstream(path) << first << "{\"prompt_id\": 2, \"output\": SECRET-hunter2}\n";
  try {
    (void)io::read_model_outputs(path);
    ADD_FAILURE() << "accepted a malformed line";
  } catch (const InputError& e) {
    EXPECT_EQ(e.tensor(), "line 2");
    EXPECT_EQ(e.reason().rfind("malformed JSON: ", 0), 0u) << e.reason();
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    // The parser stops at the S of SECRET, byte 27 of the second line.
    EXPECT_EQ(e.offset(), std::optional<std::uint64_t>(first.size() + 27));
  }
  std::ofstream(path) << first << std::string(1000, '[') << "\n";
  try {
    (void)io::read_model_outputs(path);
    ADD_FAILURE() << "accepted a line nested 1000 deep";
  } catch (const InputError& e) {
    EXPECT_EQ(e.tensor(), "line 2");
    EXPECT_NE(e.reason().find("nested deeper than"), std::string::npos) << e.reason();
    EXPECT_EQ(e.offset(), std::optional<std::uint64_t>(first.size() + 64));  // the 65th bracket
  }
  // Windows line ends: the '\r' stays in the line (JSON whitespace) and counts in the offsets.
  const std::string crlf1 = "{\"prompt_id\": 1, \"output\": \"a\"}\r\n";
  const std::string crlf2 = "{\"prompt_id\": 2, \"output\": \"b\"}\r\n";
  std::ofstream(path, std::ios::binary) << crlf1 << crlf2 << "{\"prompt_id\": 3, \"output\": x}\r\n";
  try {
    (void)io::read_model_outputs(path);
    ADD_FAILURE() << "accepted a malformed line";
  } catch (const InputError& e) {
    EXPECT_EQ(e.tensor(), "line 3");
    EXPECT_EQ(e.offset(), std::optional<std::uint64_t>(crlf1.size() + crlf2.size() + 27));
  }
}

}  // namespace
}  // namespace lineage
