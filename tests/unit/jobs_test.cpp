// Cluster operation without a cluster: the neighbour-joining tree, merging stores (dedupe,
// conflicts, refusals), sbatch scripts from the templates, and the pre-flight check.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "io/family_file.hpp"
#include "io/store/result_store.hpp"
#include "jobs/preflight.hpp"
#include "jobs/sbatch_script.hpp"
#include "jobs/store_merge.hpp"
#include "stages/verdict/lineage_tree.hpp"
#include "support/synth_suite.hpp"
#include "support/temp_dir.hpp"

namespace lineage {
namespace {

namespace fs = std::filesystem;

TEST(LineageTree, NeighbourJoiningRecoversAnAdditiveTree) {
  // Distances read off the tree ((A:1,B:2):1,(C:3,D:4)); NJ recovers it exactly.
  const std::vector<std::vector<double>> d{{0, 3, 5, 6}, {3, 0, 6, 7}, {5, 6, 0, 7}, {6, 7, 7, 0}};
  const auto t = stages::neighbour_joining({"A", "B", "C", "D"}, d);
  const auto nw = t.newick();
  EXPECT_NE(nw.find("A:1.0000,B:2.0000"), std::string::npos) << nw;
  EXPECT_NE(nw.find("C:3.0000"), std::string::npos) << nw;
  EXPECT_NE(nw.find("D:4.0000"), std::string::npos) << nw;
  EXPECT_EQ(nw.back(), ';');
  // Every leaf appears once in the drawing.
  const auto drawing = t.drawing();
  for (const char* leaf : {"A", "B", "C", "D"}) EXPECT_NE(drawing.find(std::string("] ") + leaf), std::string::npos);
  // Names with reserved characters are quoted.
  const auto q = stages::neighbour_joining({"a b", "c", "d"}, {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}});
  EXPECT_NE(q.newick().find("'a b'"), std::string::npos);
}

io::StoredModel model(const std::string& label, const std::string& path, std::uint64_t content) {
  io::StoredModel m;
  m.label = label;
  m.path = path;
  m.shard_files = {"model.safetensors"};
  m.shard_sizes = {1000};
  m.header_hashes = {content};
  return m;
}

/// A store comparing `suspect` with `other`: one same-key unit with the given Pearson.
io::StoreContents store(const io::StoredModel& suspect, const io::StoredModel& other, double pearson) {
  io::StoreContents s;
  s.run_id = "r";
  s.status = "complete";
  s.models = {suspect, other};
  s.stat_names = {"pearson", "cosine"};
  io::StoredUnit u;
  u.id = 0;
  u.kind = UnitKind::same_key;
  u.key_a = u.key_b = TensorKey{Component::text, TensorRole::attn_q, 0};
  u.tensor_a = u.tensor_b = "model.layers.0.self_attn.q_proj.weight";
  u.model_a = 0;
  u.model_b = 1;
  u.rows = u.cols = 4;
  s.units = {u};
  s.done_ids = {0};
  s.stats = {pearson, 0.5};
  s.hash_a = {1};
  s.hash_b = {2};
  s.plan_rank_of_unit = {0};
  s.unmatched = {{0, 1, TensorKey{Component::text, TensorRole::lm_head}}};
  s.writers = {"slurm:1"};
  return s;
}

TEST(StoreMerge, DeduplicatesAgreeingUnitsAndRenumbersModels) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), c = model("control1", "/m/c", 3);
  auto ab = store(a, b, 0.9);
  auto ab_again = store(a, b, 0.9 * (1 + 1e-12));  // another cluster, the same unit
  ab_again.writers = {"slurm:2"};
  auto ac = store(a, c, 0.01);
  const auto r = jobs::merge_stores({{"ab.h5", ab}, {"ab2.h5", ab_again}, {"ac.h5", ac}});
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.duplicate_units, 1u);
  ASSERT_EQ(r.store.models.size(), 3u);
  ASSERT_EQ(r.store.units.size(), 2u);
  EXPECT_EQ(r.store.units[1].model_b, 2);  // c became model 2
  EXPECT_EQ(r.store.status, "complete");
  EXPECT_EQ(r.store.stats.size(), 4u);
  EXPECT_DOUBLE_EQ(r.store.stats[0], 0.9);  // kept, never averaged
  EXPECT_EQ(r.store.writers, (std::vector<std::string>{"slurm:1", "slurm:2"}));
  // "model 1 lacks" of the a-c store now names model 2.
  std::vector<std::string> unmatched;
  for (const auto& u : r.store.unmatched) unmatched.push_back(to_string(u));
  EXPECT_NE(std::find(unmatched.begin(), unmatched.end(), "model 2 lacks text/lm_head"), unmatched.end());
}

TEST(StoreMerge, SupersededUnitsStaySupersededUnlessAnotherStoreComputedThem) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), c = model("control1", "/m/c", 3);
  // A moved expert's same-key unit (id 1), superseded in the a-b store.
  const auto with_expert = [&](const io::StoredModel& other, bool superseded) {
    auto s = store(a, other, 0.9);
    auto u = s.units[0];
    u.id = 1;
    u.key_a = u.key_b = parse_tensor_key("text/routed_expert/L0/E1/up");
    u.tensor_a = u.tensor_b = "model.layers.0.mlp.experts.1.up_proj.weight";
    s.units.push_back(u);
    s.plan_rank_of_unit.push_back(-1);
    if (superseded) {
      s.superseded_ids = {1};
    } else {
      s.done_ids.push_back(1);
      s.stats.insert(s.stats.end(), {0.02, 0.01});
      s.hash_a.push_back(3);
      s.hash_b.push_back(4);
    }
    return s;
  };
  const auto r = jobs::merge_stores({{"ab.h5", with_expert(b, true)}, {"ac.h5", with_expert(c, false)}});
  ASSERT_EQ(r.store.units.size(), 4u);
  EXPECT_EQ(r.store.superseded_ids, (std::vector<std::uint64_t>{1}));  // renumbered: a-b's unit 1 is still 1
  EXPECT_EQ(r.store.status, "complete");
  // The same unit computed in another store of the pair keeps its results and is not superseded.
  const auto both = jobs::merge_stores({{"ab.h5", with_expert(b, true)}, {"ab2.h5", with_expert(b, false)}});
  EXPECT_TRUE(both.store.superseded_ids.empty());
  EXPECT_EQ(both.store.done_ids.size(), 2u);
  EXPECT_EQ(both.store.status, "complete");
}

TEST(StoreMerge, DisagreementIsAConflictNotAnAverage) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2);
  const auto r = jobs::merge_stores({{"x.h5", store(a, b, 0.9)}, {"y.h5", store(a, b, 0.91)}});
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_NE(r.conflicts[0].find("pearson"), std::string::npos);
  EXPECT_NE(r.conflicts[0].find("y.h5"), std::string::npos);
  // Looser tolerance: the same values agree.
  jobs::MergeOptions loose;
  loose.rel_tolerance = 0.05;
  EXPECT_TRUE(jobs::merge_stores({{"x.h5", store(a, b, 0.9)}, {"y.h5", store(a, b, 0.91)}}, loose).conflicts.empty());
  // Byte hashes must match exactly.
  auto other_bytes = store(a, b, 0.9);
  other_bytes.hash_b = {99};
  EXPECT_EQ(jobs::merge_stores({{"x.h5", store(a, b, 0.9)}, {"z.h5", other_bytes}}).conflicts.size(), 1u);
}

TEST(StoreMerge, HashesOfUnitsSplitAtDifferentBlockSizesAreNotCompared) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2);
  // A 4 MiB unit: one block at the default 16 MiB, 1,024 blocks at 4,096 bytes, where its
  // stored hash is the hash of its block hashes.
  const auto run = [&](std::uint64_t block_bytes, std::uint64_t hash_a) {
    auto s = store(a, b, 0.9);
    s.units[0].rows = 1024;
    s.units[0].cols = 1024;
    s.units[0].bytes = std::uint64_t{4} << 20;
    s.hash_a = {hash_a};
    s.config_json = nlohmann::json{{"row_block_bytes", block_bytes}}.dump();
    return s;
  };
  const std::uint64_t big = std::uint64_t{16} << 20;
  const auto split = jobs::merge_stores({{"x.h5", run(big, 1)}, {"y.h5", run(4096, 77)}});
  EXPECT_TRUE(split.conflicts.empty()) << split.conflicts.front();
  EXPECT_EQ(split.duplicate_units, 1u);
  // The merged store says its hashes follow no single block size.
  const auto config = nlohmann::json::parse(split.store.config_json);
  ASSERT_TRUE(config.contains("row_block_bytes"));
  EXPECT_TRUE(config["row_block_bytes"].is_null());
  EXPECT_EQ(config["merged_from"][1]["row_block_bytes"], 4096u);
  // ... so merging it again compares that unit's statistics, not its hashes.
  EXPECT_TRUE(jobs::merge_stores({{"m.h5", split.store}, {"x.h5", run(big, 1)}}).conflicts.empty());
  // The statistics are still compared.
  auto other_stats = run(4096, 77);
  other_stats.stats[0] = 0.5;
  EXPECT_EQ(jobs::merge_stores({{"x.h5", run(big, 1)}, {"y.h5", other_stats}}).conflicts.size(), 1u);
  // One block size: hashes must agree, and the merged store keeps the size.
  const auto same = jobs::merge_stores({{"x.h5", run(4096, 1)}, {"y.h5", run(4096, 77)}});
  ASSERT_EQ(same.conflicts.size(), 1u);
  EXPECT_NE(same.conflicts[0].find("byte hashes"), std::string::npos);
  const auto agreeing = jobs::merge_stores({{"x.h5", run(4096, 1)}, {"y.h5", run(4096, 1)}});
  EXPECT_EQ(nlohmann::json::parse(agreeing.store.config_json)["row_block_bytes"], 4096u);
  // A unit no larger than either size is one block at both: its hashes are whole-tensor hashes.
  auto small_x = run(big, 1), small_y = run(4096, 77);
  small_x.units[0].bytes = small_y.units[0].bytes = 4096;
  EXPECT_EQ(jobs::merge_stores({{"x.h5", small_x}, {"y.h5", small_y}}).conflicts.size(), 1u);
  // A store written before row blocks hashed every unit whole, as one at the default size would
  // have hashed this unit.
  auto before_blocks = run(big, 77);
  before_blocks.config_json.clear();
  EXPECT_TRUE(jobs::merge_stores({{"old.h5", before_blocks}, {"y.h5", run(4096, 1)}}).conflicts.empty());
  EXPECT_EQ(jobs::merge_stores({{"old.h5", before_blocks}, {"x.h5", run(big, 1)}}).conflicts.size(), 1u);
}

TEST(StoreMerge, RefusesOnePathWithTwoContentsAndOtherStatisticVersions) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), b2 = model("parent", "/m/b", 7);
  try {
    (void)jobs::merge_stores({{"x.h5", store(a, b, 0.9)}, {"y.h5", store(a, b2, 0.9)}});
    ADD_FAILURE() << "merged two contents under one path";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("/m/b"), std::string::npos);
  }
  auto v2 = store(a, b, 0.9);
  v2.stat_names = {"pearson", "cosine_v2"};
  EXPECT_THROW((void)jobs::merge_stores({{"x.h5", store(a, b, 0.9)}, {"y.h5", v2}}), StoreError);
}

TEST(StoreMerge, ScreeningRunsMergeOnlyWithScreeningRuns) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), c = model("control1", "/m/c", 3);
  auto screened = [&](const io::StoredModel& other) {
    auto s = store(a, other, 0.9);
    s.config_json = nlohmann::json{{"screen", true}, {"row_block_bytes", 4096}}.dump();
    return s;
  };
  const auto both = jobs::merge_stores({{"ab.h5", screened(b)}, {"ac.h5", screened(c)}});
  EXPECT_TRUE(io::is_screening_run(both.store));  // its verdicts say so (stages/verdict/store_verdicts.cpp)
  EXPECT_FALSE(
      io::is_screening_run(jobs::merge_stores({{"ab.h5", store(a, b, 0.9)}, {"ac.h5", store(a, c, 0.1)}}).store));
  for (const auto& order :
       {std::vector<std::pair<std::string, io::StoreContents>>{{"ab.h5", screened(b)}, {"ac.h5", store(a, c, 0.1)}},
        std::vector<std::pair<std::string, io::StoreContents>>{{"ac.h5", store(a, c, 0.1)}, {"ab.h5", screened(b)}}}) {
    try {
      (void)jobs::merge_stores(order);
      ADD_FAILURE() << "merged a screening run's store with a full run's";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("screening run"), std::string::npos) << e.what();
    }
  }
}

// Stores whose runs read block-FP8 weights on their values merge only with such stores: a store
// of an earlier lineage read them on their codes. The merged store keeps the mark.
TEST(StoreMerge, StoresOfBlockScaledValuesMergeOnlyWithTheirKind) {
  const auto a = model("suspect", "/m/a", 1), b = model("parent", "/m/b", 2), c = model("control1", "/m/c", 3);
  auto of_values = [&](const io::StoredModel& other) {
    auto s = store(a, other, 0.9);
    s.config_json = nlohmann::json{{"block_scaled", "values"}, {"row_block_bytes", 4096}}.dump();
    return s;
  };
  const auto both = jobs::merge_stores({{"ab.h5", of_values(b)}, {"ac.h5", of_values(c)}});
  EXPECT_TRUE(io::reads_block_scaled_values(both.store));
  EXPECT_TRUE(io::reads_block_scaled_values(jobs::merge_stores({{"m.h5", both.store}, {"ab.h5", of_values(b)}}).store));
  EXPECT_FALSE(io::reads_block_scaled_values(
      jobs::merge_stores({{"ab.h5", store(a, b, 0.9)}, {"ac.h5", store(a, c, 0.1)}}).store));
  for (const auto& order :
       {std::vector<std::pair<std::string, io::StoreContents>>{{"ab.h5", of_values(b)}, {"ac.h5", store(a, c, 0.1)}},
        std::vector<std::pair<std::string, io::StoreContents>>{{"ac.h5", store(a, c, 0.1)}, {"ab.h5", of_values(b)}}}) {
    try {
      (void)jobs::merge_stores(order);
      ADD_FAILURE() << "merged a store of an earlier lineage with one of block-scaled values";
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find("earlier lineage"), std::string::npos) << e.what();
    }
  }
}

TEST(SbatchScript, SingleJobAndJobArrayFromTheTemplates) {
  RunConfig cfg;
  cfg.suspect = "/m/s";
  cfg.parents = {"/m/p"};
  cfg.out = "/data/run.h5";
  cfg.slurm.partition = "gpu";
  cfg.slurm.account = "lineage";
  cfg.slurm.extra_sbatch = {"--exclusive", "#SBATCH --qos=high"};
  jobs::SubmitOptions o{"/opt/lineage/bin/lineage", std::string(LINEAGE_SOURCE_DIR) + "/slurm", "srun"};
  auto one = jobs::make_submit_plan(cfg, "/data/run.yaml", o);
  EXPECT_EQ(one.pairs, 1u);
  EXPECT_FALSE(one.aggregate_script.has_value());
  EXPECT_EQ(one.stores, (std::vector<std::string>{"/data/run.h5"}));
  for (const char* line : {"#SBATCH --partition=gpu\n", "#SBATCH --account=lineage\n", "#SBATCH --signal=USR1@120\n",
                           "#SBATCH --requeue\n", "#SBATCH --exclusive\n", "#SBATCH --qos=high\n",
                           "srun --mpi=pmix /opt/lineage/bin/lineage compare --run /data/run.yaml --resume"}) {
    EXPECT_NE(one.compare_script.find(line), std::string::npos) << line << "\n" << one.compare_script;
  }
  EXPECT_EQ(one.compare_script.find("--array"), std::string::npos);
  EXPECT_EQ(one.compare_script.find("{{"), std::string::npos);

  cfg.controls = {"/m/c1", "/m/c2"};
  cfg.slurm.requeue = false;
  o.launcher = "mpirun";
  const auto many = jobs::make_submit_plan(cfg, "/data/run.yaml", o);
  EXPECT_EQ(many.pairs, 3u);
  EXPECT_EQ(many.stores.back(), "/data/run.pair2.h5");
  EXPECT_NE(many.compare_script.find("#SBATCH --array=0-2\n"), std::string::npos);
  EXPECT_NE(many.compare_script.find("#SBATCH --no-requeue\n"), std::string::npos);
  EXPECT_NE(many.compare_script.find("--pair \"$SLURM_ARRAY_TASK_ID\""), std::string::npos);
  // --launcher mpirun starts the ranks through lineage-mpirun (beside the binary), never bare
  // mpirun, which exits 1 on SIGTERM instead of the checkpoint's 7.
  EXPECT_NE(many.compare_script.find(
                "\n/opt/lineage/bin/lineage-mpirun --allow-run-as-root /opt/lineage/bin/lineage compare"),
            std::string::npos)
      << many.compare_script;
  EXPECT_EQ(many.compare_script.find("\nmpirun"), std::string::npos);
  ASSERT_TRUE(many.aggregate_script.has_value());
  EXPECT_NE(
      many.aggregate_script->find("merge /data/run.pair0.h5 /data/run.pair1.h5 /data/run.pair2.h5 -o /data/run.h5"),
      std::string::npos);
  o.launcher = "ssh";
  EXPECT_THROW((void)jobs::make_submit_plan(cfg, "/data/run.yaml", o), UsageError);
  EXPECT_THROW((void)jobs::render_template("a {{nope}} b", {}, "t"), ConfigError);
  EXPECT_EQ(jobs::render_template("{{x}}-{{x}}", {{"x", "1"}}, "t"), "1-1");
  EXPECT_EQ(jobs::shell_quote("it's"), "'it'\\''s'");
}

TEST(Preflight, SaysWhereTheSpillFilesCannotGo) {
  constexpr std::uint64_t mib = 1u << 20;
  const auto rank0 = jobs::spill_bytes_of_run(233'395, 1);
  const auto all = jobs::spill_bytes_of_run(233'395, 8);
  EXPECT_GT(rank0, 500 * mib);  // 233k units: about 2.1 KB a unit measured on rank 0
  EXPECT_EQ(all - rank0, 7 * (jobs::spill_bytes_of_run(233'395, 2) - rank0));
  // A folder that can hold them, with room: nothing to say.
  EXPECT_FALSE(jobs::spill_note("/scratch", true, 100 * all, all, rank0));
  // Not ext4 or XFS (a shared file system): rank 0 holds them in memory, and says how much.
  const auto shared = jobs::spill_note("/lustre/runs", false, 100 * all, all, rank0);
  ASSERT_TRUE(shared);
  EXPECT_NE(shared->find("/lustre/runs cannot hold spill files"), std::string::npos) << *shared;
  EXPECT_NE(shared->find(std::to_string((rank0 + mib - 1) / mib) + " MiB more"), std::string::npos) << *shared;
  // Too little room: a file spills only while it takes at most a quarter of the space left.
  const auto full = jobs::spill_note("/scratch", true, 3 * all, all, rank0);
  ASSERT_TRUE(full);
  EXPECT_NE(full->find("may not all fit"), std::string::npos) << *full;
  EXPECT_FALSE(jobs::spill_note("/scratch", true, 4 * all, all, rank0));
  // A small run holds little either way.
  EXPECT_FALSE(jobs::spill_note("/lustre/runs", false, 0, 1000, 1000));
}

TEST(Preflight, RefusesBadInputsAndForeignStoresBeforeAnythingIsQueued) {
  const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  const auto& suite = testing::synth_suite();
  RunConfig cfg;
  cfg.suspect = (suite / "finetune").string();
  cfg.parents = {(suite / "base").string()};
  testing::TempDir dir;
  const auto ok = jobs::preflight(cfg, registry, {(dir.path() / "run.h5").string()});
  EXPECT_TRUE(ok.ok()) << (ok.problems.empty() ? "" : ok.problems.front());
  EXPECT_EQ(ok.models, 2u);
  EXPECT_GT(ok.units, 100u);
  EXPECT_GT(ok.estimated_store_bytes, 0u);
  EXPECT_FALSE(ok.resumes_existing);
  // Two ranks by default (tasks_per_node 2): rank 0's spill files and the other's plan.
  EXPECT_EQ(ok.estimated_spill_bytes, jobs::spill_bytes_of_run(ok.units, 2));
  EXPECT_GT(jobs::spill_bytes_of_run(ok.units, 2), jobs::spill_bytes_of_run(ok.units, 1));
  EXPECT_TRUE(ok.notes.empty()) << ok.notes.front();  // a small run: nothing worth saying
  // No output folder.
  EXPECT_FALSE(jobs::preflight(cfg, registry, {(dir.path() / "missing" / "run.h5").string()}).ok());
  // A store of another run at the output path.
  auto other = store(model("suspect", "/elsewhere/x", 5), model("parent", "/elsewhere/y", 6), 0.5);
  io::write_result_store(dir.path() / "other.h5", other);
  const auto foreign = jobs::preflight(cfg, registry, {(dir.path() / "other.h5").string()});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.problems.front().find("another run"), std::string::npos);
  // A broken model folder.
  const auto broken = dir.path() / "broken";
  fs::create_directories(broken);
  fs::copy(suite / "finetune", broken, fs::copy_options::recursive);
  std::ofstream(broken / "model.safetensors.index.json") << "{ not json";
  cfg.suspect = broken.string();
  const auto bad = jobs::preflight(cfg, registry, {(dir.path() / "run2.h5").string()});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.problems.front().find("model input"), std::string::npos);
}

}  // namespace
}  // namespace lineage
