// lineage report on a synthetic store: a 64-layer, 128-expert pair (the size bound of issue 14:
// under 2 MB, one heatmap pair per role, one curve per role and model, one expert matrix per
// layer) and a one-layer, one-expert pair (the smallest readable case). The page is parsed as
// XML by Python, so "well-formed" is checked by a parser that is not ours.
#include "pipeline/report_document.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

#include "io/atomic_file.hpp"
#include "io/store/result_store.hpp"
#include "support/temp_dir.hpp"

namespace lineage::pipeline {
namespace {

const std::vector<std::string> kStats{
    "n",           "cosine",          "pearson",       "rel_l2",       "frac_value_equal",
    "hidden_corr", "null_mean",       "null_sd",       "null_p",       "null_perms",
    "basis_corr",  "basis_null_mean", "basis_null_sd", "basis_null_p", "basis_null_perms"};

/// A suspect derived from its parent (h 0.95 at every unit) with `layers` layers, attention,
/// two norms (with every cross-layer baseline), a router kept whole and `experts` routed experts
/// of three projections. Model 2 is a control at null level.
io::StoreContents synthetic_store(int layers, int experts, bool control) {
  io::StoreContents s;
  s.run_id = "synthetic";
  s.status = "complete";
  s.config_json = R"({"suspect": "/m/suspect", "parent": "/m/parent"})";
  s.stat_names = kStats;
  for (const char* label : {"suspect", "parent", "control1"}) {
    if (std::string(label) == "control1" && !control) break;
    io::StoredModel m;
    m.label = label;
    m.path = std::string("/m/") + label;
    m.family = "qwen2_moe";
    m.tensors = 100;
    m.shard_files = {"model.safetensors"};
    m.shard_sizes = {1 << 20};
    m.header_hashes = {7};
    s.models.push_back(m);
  }
  const int cols = 16;
  auto add = [&](const std::string& kind, const std::string& key, int model_b, int layer_a, int layer_b,
                 const std::string& role, double h) {
    io::StoredUnit u;
    u.id = s.units.size();
    u.kind = *parse_unit_kind(kind);
    u.key_a = parse_tensor_key(key);
    u.key_b = u.key_a;
    u.model_a = 0;
    u.model_b = model_b;
    u.layer_a = layer_a;
    u.layer_b = layer_b;
    u.rows = role == "router" ? static_cast<std::uint64_t>(experts) : 64;
    u.cols = role == "router" ? cols : 64;
    s.units.push_back(u);
    s.done_ids.push_back(u.id);
    const bool vec = role.find("norm") != std::string::npos;
    const double p = h > 0.5 ? 1e-12 : 0.5;
    s.stats.insert(s.stats.end(), {4096, 0.99, h, 0.1, 0, h, 0, 0.01, p, 0, vec ? std::nan("") : h, 0, 0.01,
                                   vec ? 1.0 : p, vec ? 0.0 : 100});
    s.hash_a.push_back(1);
    s.hash_b.push_back(2);
    return u.id;
  };
  for (int b = 1; b <= (control ? 2 : 1); ++b) {
    const double h = b == 1 ? 0.95 : 0.001;
    for (int l = 0; l < layers; ++l) {
      const auto L = "/L" + std::to_string(l);
      for (const char* r : {"attn_q", "attn_k", "attn_v", "attn_o"})
        add("same_key", "text/" + std::string(r) + L, b, l, l, r, h);
      for (const char* r : {"attn_norm", "mlp_norm"}) {
        add("same_key", "text/" + std::string(r) + L, b, l, l, r, h);
        for (int o = 0; o < layers; ++o) {
          if (o != l) add("baseline", "text/" + std::string(r) + L, b, l, o, r, 0.0);
        }
      }
      const auto router = add("same_key", "text/router" + L, b, l, l, "router", h);
      // Router rows: the parent's are the suspect's, reversed (a permutation the matching finds).
      std::mt19937 rng(static_cast<unsigned>(l * 3 + b));
      std::normal_distribution<float> normal;
      std::vector<float> ra, rb(static_cast<std::size_t>(experts * cols));
      for (int e = 0; e < experts * cols; ++e) ra.push_back(normal(rng));
      for (int e = 0; e < experts; ++e) {
        for (int c = 0; c < cols; ++c) {
          rb[static_cast<std::size_t>((experts - 1 - e) * cols + c)] =
              b == 1 ? ra[static_cast<std::size_t>(e * cols + c)] : normal(rng);
        }
      }
      s.values.put(router, ra, rb);
      for (int e = 0; e < experts; ++e) {
        for (const char* proj : {"gate", "up", "down"}) {
          add("same_key", "text/routed_expert" + L + "/E" + std::to_string(e) + "/" + proj, b, l, l, "routed_expert",
              h);
        }
      }
    }
  }
  return s;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

/// Python's XML parser on the page: exit 0 when it is well-formed.
int parse_with_python(const std::string& html) {
  testing::TempDir dir;
  io::write_text_file(dir.path() / "index.html", html);
  const auto cmd = std::string(LINEAGE_PYTHON) +
                   " -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' " +
                   (dir.path() / "index.html").string() + " 2>/dev/null";
  return std::system(cmd.c_str());
}

TEST(ReportDocument, SixtyFourLayersAndOneHundredTwentyEightExpertsStayUnderTwoMegabytes) {
  const auto store = synthetic_store(64, 128, false);
  const auto r = build_report(store, "synthetic.h5", "2000-01-01T00:00:00Z");
  EXPECT_LT(r.html.size(), 2'000'000u);
  RecordProperty("html_bytes", static_cast<int>(r.html.size()));
  // Role groups: attn_q/k/v/o, two norms, router, routed_expert gate/up/down.
  EXPECT_EQ(count(r.html, "data-family=\"layers\" data-pair=\"0-1\" data-role="), 20u);
  EXPECT_EQ(count(r.html, "data-plot=\"curves\""), 10u);
  EXPECT_EQ(count(r.html, "data-family=\"experts\""), 64u);
  EXPECT_EQ(count(r.html, "data-series="), 10u);
  // The matching recovers the reversal: no expert in place in any layer.
  EXPECT_NE(r.html.find("<td>63</td><td>128</td><td>0</td><td>0</td>"), std::string::npos);
  EXPECT_NE(r.html.find("2000-01-01T00:00:00Z"), std::string::npos);
  EXPECT_EQ(parse_with_python(r.html), 0);
  // One figure file per inline figure, for the Markdown.
  EXPECT_EQ(r.figures.size(), 20u + 10u + 64u);
  EXPECT_EQ(count(r.markdown, "](figures/"), r.figures.size());
}

TEST(ReportDocument, OneLayerOneExpertWithAControl) {
  const auto store = synthetic_store(1, 1, true);
  const auto r = build_report(store, "small.h5", "2000-01-01T00:00:00Z");
  EXPECT_EQ(count(r.html, "data-family=\"layers\" data-pair=\"0-1\" data-role="), 20u);
  EXPECT_EQ(count(r.html, "data-family=\"layers\" data-pair=\"0-2\" data-role="), 20u);
  // One curve per role and model: parent and control.
  EXPECT_EQ(count(r.html, "data-plot=\"curves\""), 10u);
  EXPECT_EQ(count(r.html, "data-series=\"vs parent parent\""), 10u);
  EXPECT_EQ(count(r.html, "data-series=\"vs control1 control1\""), 10u);
  EXPECT_EQ(parse_with_python(r.html), 0);
}

TEST(ReportDocument, ABrokenPageFailsTheParser) {
  // The well-formedness check must be able to fail.
  EXPECT_NE(parse_with_python("<html><body><p>unclosed</body></html>"), 0);
}

}  // namespace
}  // namespace lineage::pipeline
