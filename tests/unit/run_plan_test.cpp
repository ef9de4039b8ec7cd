// The run-plan builder (stages/plan/run_plan.hpp) that compare, plan and the pre-flight check
// share, tested without MPI on the synthetic suite.
#include "stages/plan/run_plan.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "io/family_file.hpp"
#include "io/store/model_fingerprint.hpp"
#include "support/files.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"
#include "tools/synth/registry_expand.hpp"
#include "tools/synth/scenarios.hpp"
#include "tools/synth/synth_style.hpp"
#include "tools/synth/write_model.hpp"

namespace lineage {
namespace {

const FamilyRegistry& registry() {
  static const auto r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

RunConfig finetune_of_base() {
  const auto& suite = testing::synth_suite();
  RunConfig cfg;
  cfg.suspect = (suite / "finetune").string();
  cfg.parents = {(suite / "base").string()};
  return cfg;
}

TEST(RunPlan, ModelsFingerprintsUnitsAndDigestOfARun) {
  const auto cfg = finetune_of_base();
  const auto plan = stages::build_run_plan(cfg, registry());
  ASSERT_EQ(plan.models.size(), 2u);
  EXPECT_EQ(plan.models[0].label, "suspect");
  EXPECT_EQ(plan.models[1].label, "parent");
  ASSERT_EQ(plan.fingerprints.size(), 2u);
  for (std::size_t m = 0; m < 2; ++m) {
    const auto& model = plan.models[m];
    const auto& f = plan.fingerprints[m];
    EXPECT_EQ(f.label, model.label);
    EXPECT_EQ(f.family, model.inventory.family);
    EXPECT_EQ(f.tensors, model.inventory.tensors.size());
    EXPECT_EQ(f.fingerprint(), io::fingerprint_model(model.label, model.dir, model.shard_files).fingerprint());
  }
  ASSERT_GT(plan.units().size(), 100u);
  EXPECT_TRUE(plan.comparable());
  stages::UnitListDigest digest;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < plan.units().size(); ++i) {
    const auto& u = plan.units()[i];
    EXPECT_EQ(u.id, i);
    digest.add(u.key_a, u.key_b);
    bytes += u.bytes();
  }
  EXPECT_EQ(plan.digest, digest.hex());
  EXPECT_EQ(plan.digest.size(), 32u);
  EXPECT_EQ(plan.bytes(), bytes);
  // Deterministic: every rank builds the same plan on its own.
  EXPECT_EQ(stages::build_run_plan(cfg, registry()).digest, plan.digest);
}

// Each model's block-scaled weights are found once, as it is read (RunModel::block_scales), for
// every reader of their factors; a model built by hand has no such list, and asking for it is an
// error rather than every FP8 weight read silently as its codes.
TEST(RunPlan, EachModelCarriesItsBlockScaledWeights) {
  const auto plan = stages::build_run_plan(finetune_of_base(), registry());
  for (const auto& m : plan.models) {
    ASSERT_NE(m.block_scales, nullptr) << m.label;
    EXPECT_EQ(&stages::block_scale_companions(m), m.block_scales.get());
    EXPECT_TRUE(stages::block_scale_companions(m).empty()) << m.label;  // the suite is BF16
  }
  // The same base written as a block-FP8 release stores it: its linear weights are listed, with
  // their companions, once, and a copy of the model shares that list.
  const testing::TempDir dir;
  const auto style = tools::load_style(testing::test_styles_dir(), "qwen2_moe", {});
  tools::write_model(tools::make_base(style, 1, tools::make_expand(registry())), dir.path() / "fp8",
                     &registry().quantisation());
  RunConfig cfg;
  cfg.suspect = (dir.path() / "fp8").string();
  cfg.parents = {(testing::synth_suite() / "base").string()};
  const auto fp8 = stages::build_run_plan(cfg, registry());
  ASSERT_EQ(fp8.models.size(), 2u);
  std::size_t scaled = 0;
  for (const auto& t : fp8.models[0].inventory.tensors) {
    if (t.key.kind == ParamKind::weight && t.dtype && stages::is_block_scalable(*t.dtype)) {
      ++scaled;
      EXPECT_NE(stages::block_scale_companions(fp8.models[0]).of(t.name), nullptr) << t.name;
    }
  }
  EXPECT_GT(scaled, 10u);
  EXPECT_EQ(stages::block_scale_companions(fp8.models[0]).size(), scaled);
  EXPECT_TRUE(stages::block_scale_companions(fp8.models[1]).empty());
  const stages::RunModel copy = fp8.models[0];
  EXPECT_EQ(copy.block_scales.get(), fp8.models[0].block_scales.get());

  // Planning reads no weight: no list is made.
  stages::RunPlanOptions planning;
  planning.planning_only = true;
  for (const auto& m : stages::build_run_plan(cfg, registry(), planning).models) EXPECT_EQ(m.block_scales, nullptr);

  stages::RunModel by_hand;
  by_hand.label = "suspect";
  EXPECT_THROW((void)stages::block_scale_companions(by_hand), InternalError);
}

TEST(RunPlan, FollowsTheRunsBaselineSetting) {
  auto cfg = finetune_of_base();
  const auto with = stages::build_run_plan(cfg, registry());
  cfg.baselines = false;
  const auto without = stages::build_run_plan(cfg, registry());
  EXPECT_LT(without.units().size(), with.units().size());
  for (const auto& u : without.units()) {
    EXPECT_TRUE(u.kind != UnitKind::baseline && u.kind != UnitKind::within) << to_string(u.key_a);
  }
  EXPECT_NE(without.digest, with.digest);
}

TEST(RunPlan, PlanningOnlyHasNoFingerprintsAndTheSameUnits) {
  const auto cfg = finetune_of_base();
  stages::RunPlanOptions options;
  options.planning_only = true;
  const auto planned = stages::build_run_plan(cfg, registry(), options);
  EXPECT_TRUE(planned.fingerprints.empty());
  const auto run = stages::build_run_plan(cfg, registry());
  EXPECT_EQ(planned.digest, run.digest);
  EXPECT_EQ(planned.bytes(), run.bytes());
}

TEST(RunPlan, StepsAreLoadThenPairAndAFailureInOneStopsTheBuild) {
  const auto cfg = finetune_of_base();
  std::vector<std::string> steps;
  stages::RunPlanOptions options;
  options.before_step = [&](std::string_view step) { steps.emplace_back(step); };
  (void)stages::build_run_plan(cfg, registry(), options);
  EXPECT_EQ(steps, (std::vector<std::string>{"load", "pair"}));
  steps.clear();
  options.before_step = [&](std::string_view step) {
    steps.emplace_back(step);
    if (step == "pair") throw std::runtime_error("stop at pair");
  };
  EXPECT_THROW((void)stages::build_run_plan(cfg, registry(), options), std::runtime_error);
  EXPECT_EQ(steps, (std::vector<std::string>{"load", "pair"}));
}

TEST(RunPlan, AMissingModelIsAnInputError) {
  auto cfg = finetune_of_base();
  cfg.parents = {"/nonexistent/lineage-model"};
  EXPECT_THROW((void)stages::build_run_plan(cfg, registry()), InputError);
}

TEST(RunPlan, ModelsAreReadInRunOrderAndTheFirstFailureInThatOrderIsReported) {
  const auto& suite = testing::synth_suite();
  RunConfig cfg;
  cfg.suspect = (suite / "finetune").string();
  cfg.parents = {(suite / "base").string()};
  cfg.controls = {(suite / "independent").string(), "/nonexistent/lineage-control-a", "/nonexistent/lineage-control-b"};
  // Read on several threads where the process has several cores; reported as if in turn.
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      (void)stages::load_run_models(cfg, registry());
      FAIL() << "two controls do not exist";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("lineage-control-a"), std::string::npos) << e.what();
    }
  }
  cfg.controls.resize(1);
  const auto models = stages::load_run_models(cfg, registry());
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].dir, cfg.suspect);
  EXPECT_EQ(models[1].dir, cfg.parents[0]);
  EXPECT_EQ(models[2].dir, cfg.controls[0]);
  EXPECT_EQ(models[2].label, "control1");
  EXPECT_GT(models[2].inventory.tensors.size(), 0u);
}

// compare says a folder is still being downloaded (and how to finish it) whatever its first
// failing file is; the check reads every header again, so it runs only after a failure or when a
// `.part` file shows an interrupted fetch, and a complete folder loads without it.
TEST(RunPlan, AnIncompleteDownloadIsSaidToBeOneForCompare) {
  namespace fs = std::filesystem;
  const auto& suite = testing::synth_suite();
  const testing::TempDir tmp;
  const auto dir = tmp.path() / "model";
  const auto reset = [&] {
    fs::remove_all(dir);
    fs::copy(suite / "base", dir);
  };
  RunConfig cfg;
  cfg.suspect = dir.string();
  cfg.parents = {(suite / "base").string()};
  const auto error_of_load = [&]() -> std::string {
    try {
      (void)stages::load_run_models(cfg, registry());
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  const auto shard = dir / "model-00002-of-00002.safetensors";
  reset();
  EXPECT_EQ(error_of_load(), "");
  fs::resize_file(shard, fs::file_size(shard) - 100);  // truncated
  auto msg = error_of_load();
  EXPECT_NE(msg.find("incomplete download"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run past the end of the file"), std::string::npos) << msg;
  reset();
  fs::remove(shard);  // missing
  msg = error_of_load();
  EXPECT_NE(msg.find("incomplete download"), std::string::npos) << msg;
  EXPECT_NE(msg.find("named by the index but missing"), std::string::npos) << msg;
  reset();
  std::ofstream(dir / "model-00003-of-00003.safetensors.part") << "x";  // an interrupted fetch, nothing failing
  msg = error_of_load();
  EXPECT_NE(msg.find("incomplete download"), std::string::npos) << msg;
  EXPECT_NE(msg.find("partial download"), std::string::npos) << msg;
  // A failure that is no download problem keeps its own message.
  reset();
  std::ofstream(dir / "model.safetensors.index.json") << "{";
  msg = error_of_load();
  EXPECT_EQ(msg.find("incomplete download"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
  // plan reads a folder whose shards are absent from its index (no download check).
  reset();
  fs::remove(shard);
  EXPECT_NO_THROW((void)stages::load_run_models(cfg, registry(), /*allow_index_only=*/true));
}

TEST(RunPlan, UnitListDigestSeesEveryKeyFieldAndTheOrder) {
  const auto digest_of = [](const std::vector<std::pair<TensorKey, TensorKey>>& units) {
    stages::UnitListDigest d;
    for (const auto& [a, b] : units) d.add(a, b);
    return d.hex();
  };
  TensorKey a;
  a.role = TensorRole::routed_expert;
  a.layer = 3;
  a.expert = 7;
  a.projection = Projection::up;
  TensorKey b = a;
  b.layer = 4;
  const auto reference = digest_of({{a, b}, {b, a}});
  EXPECT_EQ(digest_of({{a, b}, {b, a}}), reference);
  EXPECT_NE(digest_of({{b, a}, {a, b}}), reference);
  EXPECT_NE(digest_of({{a, b}}), reference);
  EXPECT_NE(digest_of({}), reference);
  const std::vector<std::function<void(TensorKey&)>> changes{[](TensorKey& k) { k.component = Component::vision; },
                                                             [](TensorKey& k) { k.role = TensorRole::shared_expert; },
                                                             [](TensorKey& k) { k.layer = 5; },
                                                             [](TensorKey& k) { k.expert = 8; },
                                                             [](TensorKey& k) { k.projection = Projection::down; },
                                                             [](TensorKey& k) { k.kind = ParamKind::bias; },
                                                             [](TensorKey& k) { k.index = 0; }};
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (const bool first : {true, false}) {
      auto x = a, y = b;
      changes[i](first ? x : y);
      EXPECT_NE(digest_of({{x, y}, {b, a}}), reference) << "field " << i << (first ? " of key a" : " of key b");
    }
  }
}

}  // namespace
}  // namespace lineage
