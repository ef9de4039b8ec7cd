/// Each synth scenario is generated into a temp folder, read back through io/ and the inventory,
/// and its defining property is checked numerically against the base model.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "io/checkpoint_listing.hpp"
#include "io/dtype_decode.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "io/safetensors_file.hpp"
#include "stages/inventory/inventory.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"
#include "tools/synth/registry_expand.hpp"
#include "tools/synth/scenarios.hpp"
#include "tools/synth/synth_style.hpp"
#include "tools/synth/write_model.hpp"

namespace lineage::tools {
namespace {

using Tensors = std::map<std::string, std::vector<float>>;

const FamilyRegistry& registry() {
  static const FamilyRegistry r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

/// Every tensor of a written model folder, decoded.
Tensors read_model(const std::filesystem::path& dir) { return testing::read_checkpoint_values(dir); }

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// One naming style with i.i.d. or trained-like (--realistic) values: every scenario must keep
/// its defining property under both value models.
struct StyleCase {
  std::string style;
  bool realistic = false;
};

class SynthScenario : public ::testing::TestWithParam<StyleCase> {
 protected:
  void SetUp() override {
    style_ = load_style(testing::test_styles_dir(), GetParam().style);
    expand_ = make_expand(registry());
    values_ = GetParam().realistic ? ValueModel::realistic : ValueModel::iid;
    base_ = make_base(style_, 1, expand_, values_);
    write_model(base_, tmp_.path() / "base");
    base_values_ = read_model(tmp_.path() / "base");
  }
  SynthModel derive(const std::string& scenario, std::uint64_t seed = 7) {
    dense_ = make_dense_parent(style_, 1001, expand_, values_);
    ScenarioInputs in;
    in.style = &style_;
    in.base = &base_;
    in.dense_parent = &dense_;
    in.parent_name = "base";
    in.dense_parent_name = "dense_parent";
    in.seed = seed;
    in.expand = expand_;
    return make_scenario(scenario, in);
  }
  /// Writes, reads back (checking the file holds exactly the in-memory values) and checks the
  /// inventory claims every tensor.
  Tensors write_and_read(const SynthModel& m, const std::string& name) {
    const auto dir = tmp_.path() / name;
    write_model(m, dir);
    const auto listing = io::list_checkpoint(dir, false);
    EXPECT_GE(listing.shard_files.size(), 2u);
    const auto config = io::read_json_file(dir / "config.json");
    const auto inv = stages::build_inventory(listing, &config, registry());
    EXPECT_TRUE(inv.unclaimed.empty()) << name;
    EXPECT_TRUE(inv.required_missing.empty()) << name;
    EXPECT_TRUE(inv.shape_mismatches.empty()) << name;
    auto values = read_model(dir);
    EXPECT_EQ(values.size(), m.tensors.size());
    for (const auto& t : m.tensors) EXPECT_EQ(values.at(t.spec.name), t.values) << t.spec.name;
    // Derived models follow their parent's value model (provenance.json says which).
    EXPECT_EQ(value_model_of(m), values_) << name;
    return values;
  }
  const SynthTensor& find(const SynthModel& m, TensorRole role, int layer, int expert = -1,
                          Projection p = Projection::none) {
    for (const auto& t : m.tensors) {
      const auto& k = t.spec.key;
      if (k.role == role && k.layer == layer && k.expert == expert && k.projection == p &&
          k.kind == ParamKind::weight) {
        return t;
      }
    }
    throw std::runtime_error("tensor not found");
  }
  testing::TempDir tmp_;
  SynthStyle style_;
  ExpandFn expand_;
  ValueModel values_ = ValueModel::iid;
  SynthModel base_, dense_;
  Tensors base_values_;
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  return dot(a, b) / std::sqrt(dot(a, a) * dot(b, b));
}
std::vector<double> centred(std::vector<double> a) {
  double m = 0;
  for (const double x : a) m += x;
  m /= static_cast<double>(a.size());
  for (double& x : a) x -= m;
  return a;
}

/// HF-orientation [rows x cols] matrix of one expert projection (gate, up or down), whether the
/// model stores experts per expert or stacked/fused.
struct Matrix {
  std::uint64_t rows = 0, cols = 0;
  std::vector<double> v;
  [[nodiscard]] double at(std::uint64_t r, std::uint64_t c) const { return v[r * cols + c]; }
};

Matrix expert_matrix(const SynthModel& m, int layer, int expert, Projection proj) {
  for (const auto& t : m.tensors) {
    const auto& k = t.spec.key;
    if (k.role != TensorRole::routed_expert || k.layer != layer) continue;
    if (!t.spec.layout.stacked) {
      if (k.expert != expert || k.projection != proj) continue;
      return {t.spec.shape[0], t.spec.shape[1], {t.values.begin(), t.values.end()}};
    }
    const bool fused = k.projection == Projection::gate_up;
    if (!(k.projection == proj || (fused && (proj == Projection::gate || proj == Projection::up)))) {
      continue;
    }
    const auto a = t.spec.shape[1], b = t.spec.shape[2];
    const auto base = static_cast<std::uint64_t>(expert) * a * b;
    Matrix hf{t.spec.layout.transposed ? b : a, t.spec.layout.transposed ? a : b, {}};
    hf.v.resize(hf.rows * hf.cols);
    for (std::uint64_t r = 0; r < a; ++r) {
      for (std::uint64_t c = 0; c < b; ++c) {
        const auto hr = t.spec.layout.transposed ? c : r, hc = t.spec.layout.transposed ? r : c;
        hf.v[hr * hf.cols + hc] = t.values[base + r * b + c];
      }
    }
    if (!fused) return hf;
    const auto inter = hf.rows / 2;
    Matrix out{inter, hf.cols, std::vector<double>(inter * hf.cols)};
    const bool interleaved = t.spec.layout.gate_up == StorageLayout::GateUp::interleaved;
    for (std::uint64_t j = 0; j < inter; ++j) {
      const auto src =
          interleaved ? 2 * j + (proj == Projection::up ? 1 : 0) : j + (proj == Projection::up ? inter : 0);
      for (std::uint64_t c = 0; c < hf.cols; ++c) out.v[j * hf.cols + c] = hf.at(src, c);
    }
    return out;
  }
  throw std::runtime_error("expert matrix not found");
}

std::vector<double> matvec(const Matrix& m, const std::vector<double>& x) {
  std::vector<double> y(m.rows, 0.0);
  for (std::uint64_t r = 0; r < m.rows; ++r) {
    for (std::uint64_t c = 0; c < m.cols; ++c) y[r] += m.at(r, c) * x[c];
  }
  return y;
}

/// SwiGLU expert output down(silu(gate x) * up x).
std::vector<double> expert_output(const SynthModel& m, int layer, int expert, const std::vector<double>& x) {
  auto g = matvec(expert_matrix(m, layer, expert, Projection::gate), x);
  const auto u = matvec(expert_matrix(m, layer, expert, Projection::up), x);
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
  return matvec(expert_matrix(m, layer, expert, Projection::down), g);
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    n += static_cast<double>(a[i]) * a[i];
  }
  return std::sqrt(d / n);
}

std::vector<double> norm_vector(const SynthModel& m) {
  std::vector<double> out;
  for (const auto& t : m.tensors) {
    if (t.spec.key.role == TensorRole::attn_norm || t.spec.key.role == TensorRole::mlp_norm) {
      out.insert(out.end(), t.values.begin(), t.values.end());
    }
  }
  return out;
}

TEST_P(SynthScenario, IdenticalHasSameValuesUnderOtherSharding) {
  const auto m = derive("identical");
  const auto values = write_and_read(m, "identical");
  EXPECT_EQ(values, base_values_);
  EXPECT_NE(io::list_checkpoint(tmp_.path() / "identical", false).shard_files.size(),
            io::list_checkpoint(tmp_.path() / "base", false).shard_files.size());
  EXPECT_NE(m.tensors.front().spec.name, base_.tensors.front().spec.name);
}

TEST_P(SynthScenario, FinetuneIsSmallAndLeavesLateLayersMostlyEqual) {
  const auto m = derive("finetune");
  write_and_read(m, "finetune");
  const int layers = base_.config.at(style_.layers_key).get<int>();
  std::uint64_t late_equal = 0, late_total = 0, early_equal = 0, early_total = 0;
  for (std::size_t t = 0; t < m.tensors.size(); ++t) {
    const auto& a = base_.tensors[t].values;
    const auto& b = m.tensors[t].values;
    ASSERT_EQ(base_.tensors[t].spec.name, m.tensors[t].spec.name);
    EXPECT_LT(rel_diff(a, b), 0.05) << m.tensors[t].spec.name;
    const int l = m.tensors[t].spec.key.layer;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (l == layers - 1) {
        late_total++;
        late_equal += a[i] == b[i];
      }
      if (l == 0) {
        early_total++;
        early_equal += a[i] == b[i];
      }
    }
  }
  EXPECT_GT(static_cast<double>(late_equal) / static_cast<double>(late_total), 0.85);
  EXPECT_LT(static_cast<double>(early_equal) / static_cast<double>(early_total), 0.6);
}

TEST_P(SynthScenario, ContinuedPretrainIsALargerUpdate) {
  const auto m = derive("continued_pretrain");
  write_and_read(m, "continued_pretrain");
  const auto& a = find(base_, TensorRole::attn_q, 1).values;
  const auto& b = find(m, TensorRole::attn_q, 1).values;
  const double d = rel_diff(a, b);
  EXPECT_GT(d, 0.1);
  EXPECT_LT(d, 0.4);
}

TEST_P(SynthScenario, IndependentNormsShowTheRawCosineTrap) {
  const auto m = derive("independent");
  write_and_read(m, "independent");
  const auto a = norm_vector(base_), b = norm_vector(m);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 200u);
  EXPECT_GT(cosine(a, b), 0.95);
  EXPECT_LT(std::abs(cosine(centred(a), centred(b))), 0.2);
  // A projection of independent models is uncorrelated too.
  std::vector<double> qa, qb;
  for (const float x : find(base_, TensorRole::attn_q, 0).values) qa.push_back(x);
  for (const float x : find(m, TensorRole::attn_q, 0).values) qb.push_back(x);
  EXPECT_LT(std::abs(cosine(qa, qb)), 0.1);
}

TEST_P(SynthScenario, PermutedPreservesTheFunction) {
  const auto m = derive("permuted");
  write_and_read(m, "permuted");
  const auto& layer0 = m.provenance.at("layers").at(0);
  const int layer = layer0.at("layer").get<int>();
  const auto perm = layer0.at("expert_permutation").get<std::vector<int>>();
  const int hidden = base_.config.at("hidden_size").get<int>();
  std::vector<double> x(static_cast<std::size_t>(hidden));
  for (int i = 0; i < hidden; ++i) x[static_cast<std::size_t>(i)] = std::sin(1.7 * i + 0.2);
  const auto& rb = find(base_, TensorRole::router, layer);
  const auto& rm = find(m, TensorRole::router, layer);
  bool any_moved = false;
  for (std::size_t e = 0; e < perm.size(); ++e) {
    any_moved |= perm[e] != static_cast<int>(e);
    double lb = 0, lm = 0;
    for (int c = 0; c < hidden; ++c) {
      lb += rb.values[static_cast<std::size_t>(perm[e] * hidden + c)] * x[static_cast<std::size_t>(c)];
      lm += rm.values[e * static_cast<std::size_t>(hidden) + static_cast<std::size_t>(c)] *
            x[static_cast<std::size_t>(c)];
    }
    EXPECT_NEAR(lm, lb, 1e-9);
    const auto yb = expert_output(base_, layer, perm[e], x);
    const auto ym = expert_output(m, layer, static_cast<int>(e), x);
    for (std::size_t i = 0; i < yb.size(); ++i) EXPECT_NEAR(ym[i], yb[i], 1e-9);
    // Not trivially equal: the stored matrices differ (for per-expert storage, neurons moved).
    if (perm[e] != static_cast<int>(e)) {
      EXPECT_NE(expert_matrix(m, layer, static_cast<int>(e), Projection::gate).v,
                expert_matrix(base_, layer, static_cast<int>(e), Projection::gate).v);
    }
  }
  EXPECT_TRUE(any_moved);
}

TEST_P(SynthScenario, UpcycledExpertsAreCloseToTheDenseMlp) {
  const auto m = derive("upcycled");
  write_and_read(m, "upcycled");
  const int experts = base_.config.at(style_.experts_key).get<int>();
  for (const auto proj : {Projection::gate, Projection::up, Projection::down}) {
    const auto& dense = find(dense_, TensorRole::dense_mlp, 1, -1, proj);
    for (int e = 0; e < experts; ++e) {
      const auto em = expert_matrix(m, 1, e, proj);
      ASSERT_EQ(em.v.size(), dense.values.size());
      std::vector<float> ev(em.v.begin(), em.v.end());
      const double d = rel_diff(dense.values, ev);
      EXPECT_GT(d, 0.0);
      EXPECT_LT(d, 0.25);
    }
  }
  EXPECT_EQ(find(m, TensorRole::attn_q, 2).values, find(dense_, TensorRole::attn_q, 2).values);
  EXPECT_EQ(find(m, TensorRole::embedding, -1).values, find(dense_, TensorRole::embedding, -1).values);
}

TEST_P(SynthScenario, UpcycledPermutedExpertsAreTheDenseMlpWithTheirNeuronsShuffled) {
  const auto m = derive("upcycled_permuted");
  write_and_read(m, "upcycled_permuted");
  EXPECT_TRUE(m.provenance.at("parameters").at("neurons_permuted").get<bool>());
  const int experts = base_.config.at(style_.experts_key).get<int>();
  for (int e = 0; e < experts; ++e) {
    // Each neuron (gate row, up row, down column) of the expert is a noisy copy of one dense
    // neuron, the same one in all three projections, and not all in place.
    const auto& dg = find(dense_, TensorRole::dense_mlp, 1, -1, Projection::gate);
    const auto eg = expert_matrix(m, 1, e, Projection::gate);
    const auto eu = expert_matrix(m, 1, e, Projection::up);
    const auto ed = expert_matrix(m, 1, e, Projection::down);
    const auto& du = find(dense_, TensorRole::dense_mlp, 1, -1, Projection::up);
    const auto& dd = find(dense_, TensorRole::dense_mlp, 1, -1, Projection::down);
    const auto neurons = dg.spec.shape.at(0), hidden = dg.spec.shape.at(1);
    ASSERT_EQ(eg.v.size(), dg.values.size());
    const auto row_distance = [&](const auto& x, std::uint64_t i, const std::vector<float>& y, std::uint64_t j,
                                  std::uint64_t len, std::uint64_t stride_x, std::uint64_t stride_y, bool cols) {
      double s = 0;
      for (std::uint64_t k = 0; k < len; ++k) {
        const double a = cols ? x[k * stride_x + i] : x[i * stride_x + k];
        const double b = cols ? y[k * stride_y + j] : y[j * stride_y + k];
        s += (a - b) * (a - b);
      }
      return s;
    };
    std::uint64_t in_place = 0;
    for (std::uint64_t n = 0; n < neurons; ++n) {
      std::uint64_t best = 0;
      double best_d = 1e300;
      for (std::uint64_t j = 0; j < neurons; ++j) {
        const double d = row_distance(eg.v, n, dg.values, j, hidden, hidden, hidden, false);
        if (d < best_d) best_d = d, best = j;
      }
      in_place += best == n ? 1 : 0;
      // The same dense neuron is nearest for up and down too.
      std::uint64_t best_up = 0, best_down = 0;
      double bu = 1e300, bd = 1e300;
      for (std::uint64_t j = 0; j < neurons; ++j) {
        const double du_d = row_distance(eu.v, n, du.values, j, hidden, hidden, hidden, false);
        const double dd_d = row_distance(ed.v, n, dd.values, j, hidden, neurons, neurons, true);
        if (du_d < bu) bu = du_d, best_up = j;
        if (dd_d < bd) bd = dd_d, best_down = j;
      }
      EXPECT_EQ(best_up, best) << "expert " << e << " neuron " << n;
      EXPECT_EQ(best_down, best) << "expert " << e << " neuron " << n;
    }
    EXPECT_LT(in_place, neurons / 2) << "expert " << e;
  }
}

TEST_P(SynthScenario, ExpertPrunedKeepsExpertsExactly) {
  const auto m = derive("expert_pruned");
  write_and_read(m, "expert_pruned");
  const auto kept = m.provenance.at("kept_experts").get<std::vector<int>>();
  EXPECT_EQ(m.config.at(style_.experts_key).get<std::size_t>(), kept.size());
  EXPECT_LT(kept.size(), base_.config.at(style_.experts_key).get<std::size_t>());
  const int hidden = base_.config.at("hidden_size").get<int>();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    for (const auto proj : {Projection::gate, Projection::up, Projection::down}) {
      EXPECT_EQ(expert_matrix(m, 0, static_cast<int>(i), proj).v, expert_matrix(base_, 0, kept[i], proj).v);
    }
    const auto& rb = find(base_, TensorRole::router, 0).values;
    const auto& rm = find(m, TensorRole::router, 0).values;
    for (int c = 0; c < hidden; ++c) {
      EXPECT_EQ(rm[i * static_cast<std::size_t>(hidden) + static_cast<std::size_t>(c)],
                rb[static_cast<std::size_t>(kept[i] * hidden + c)]);
    }
  }
}

TEST_P(SynthScenario, DepthUpscaledDuplicatesLayersExactly) {
  const auto m = derive("depth_upscaled");
  write_and_read(m, "depth_upscaled");
  const auto source = m.provenance.at("layer_source").get<std::vector<int>>();
  EXPECT_EQ(m.config.at(style_.layers_key).get<std::size_t>(), source.size());
  EXPECT_GT(source.size(), base_.config.at(style_.layers_key).get<std::size_t>());
  std::size_t checked = 0;
  for (const auto& t : m.tensors) {
    if (t.spec.key.layer < 0) continue;
    auto key = t.spec.key;
    key.layer = source[static_cast<std::size_t>(key.layer)];
    for (const auto& b : base_.tensors) {
      if (b.spec.key == key) {
        EXPECT_EQ(t.values, b.values) << t.spec.name;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0u);
}

TEST_P(SynthScenario, VocabExtendedAppendsRowsAndTokens) {
  const auto m = derive("vocab_extended");
  write_and_read(m, "vocab_extended");
  const auto v0 = base_.config.at(style_.vocab_key).get<std::size_t>();
  const auto v1 = m.config.at(style_.vocab_key).get<std::size_t>();
  EXPECT_GT(v1, v0);
  for (const auto role : {TensorRole::embedding, TensorRole::lm_head}) {
    const auto& a = find(base_, role, -1).values;
    const auto& b = find(m, role, -1).values;
    ASSERT_EQ(b.size() * v0, a.size() * v1);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
  }
  ASSERT_EQ(m.tokenizer.tokens.size(), v1);
  EXPECT_TRUE(std::equal(base_.tokenizer.tokens.begin(), base_.tokenizer.tokens.end(), m.tokenizer.tokens.begin()));
  EXPECT_TRUE(std::equal(base_.tokenizer.merges.begin(), base_.tokenizer.merges.end(), m.tokenizer.merges.begin()));
  const auto tj = io::read_json_file(tmp_.path() / "vocab_extended" / "tokenizer.json");
  EXPECT_EQ(tj.at("model").at("type"), "BPE");
  EXPECT_EQ(tj.at("model").at("vocab").size(), v1);
  EXPECT_EQ(tj.at("pre_tokenizer").at("type"), "ByteLevel");
}

TEST_P(SynthScenario, PartialReuseCopiesOnlyAttentionAndEmbedding) {
  const auto m = derive("partial_reuse");
  write_and_read(m, "partial_reuse");
  EXPECT_EQ(find(m, TensorRole::attn_q, 3).values, find(base_, TensorRole::attn_q, 3).values);
  EXPECT_EQ(find(m, TensorRole::embedding, -1).values, find(base_, TensorRole::embedding, -1).values);
  EXPECT_NE(find(m, TensorRole::router, 3).values, find(base_, TensorRole::router, 3).values);
  EXPECT_NE(find(m, TensorRole::lm_head, -1).values, find(base_, TensorRole::lm_head, -1).values);
  EXPECT_FALSE(m.provenance.at("copied").empty());
}

TEST_P(SynthScenario, SameSeedGivesByteIdenticalFiles) {
  const auto again = make_base(style_, 1, expand_, values_);
  write_model(again, tmp_.path() / "again");
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp_.path() / "base")) {
    EXPECT_EQ(slurp(entry.path()), slurp(tmp_.path() / "again" / entry.path().filename())) << entry.path().filename();
    ++files;
  }
  EXPECT_GE(files, 7u);
  const auto other = make_base(style_, 2, expand_, values_);
  EXPECT_NE(other.tensors.front().values, base_.tensors.front().values);
}

/// Every built-in style: a style whose family files are missing must fail (in SetUp, with the
/// loader's message), never silently drop out of the suite.
std::vector<std::string> testable_styles() { return list_styles(testing::test_styles_dir()); }

/// Every style twice: i.i.d. values and --realistic values.
std::vector<StyleCase> testable_cases() {
  std::vector<StyleCase> cases;
  for (const auto& s : testable_styles()) cases.push_back({s, false});
  for (const auto& s : testable_styles()) cases.push_back({s, true});
  return cases;
}

TEST(SynthStyles, AllFiveNamingStylesAreTested) {
  const auto styles = testable_styles();
  EXPECT_EQ(styles.size(), 5u);
  for (const auto& name : styles) {
    const auto s = load_style(testing::test_styles_dir(), name);
    EXPECT_NE(registry().find(s.family), nullptr) << name;
    EXPECT_NE(registry().find(s.dense_family), nullptr) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, SynthScenario, ::testing::ValuesIn(testable_cases()),
                         [](const ::testing::TestParamInfo<StyleCase>& p) {
                           return p.param.style + (p.param.realistic ? "_realistic" : "");
                         });

}  // namespace
}  // namespace lineage::tools
