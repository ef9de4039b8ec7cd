#include "io/run_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.hpp"
#include "core/sbatch_text.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

std::filesystem::path write(const lineage::testing::TempDir& d, const std::string& text) {
  const auto p = d.path() / "run.yaml";
  std::ofstream(p) << text;
  return p;
}

TEST(RunFile, ReadsEveryKeyAndResolvesRelativePaths) {
  lineage::testing::TempDir d;
  const auto cfg = read_run_file(write(d, R"(
suspect: models/suspect
parents: [models/base, /abs/other]
controls: models/control
out: out/run.h5
resume: true
null_permutations: 4096
family: qwen3_moe
slurm:
  nodes: 4
  tasks_per_node: 8
  time: "02:00:00"
  partition: gpu
  extra_sbatch: ["--exclusive"]
)"));
  EXPECT_EQ(cfg.suspect, (d.path() / "models/suspect").string());
  ASSERT_EQ(cfg.parents.size(), 2u);
  EXPECT_EQ(cfg.parents[1], "/abs/other");
  ASSERT_EQ(cfg.controls.size(), 1u);
  EXPECT_TRUE(cfg.resume);
  EXPECT_EQ(cfg.null_permutations, 4096);
  EXPECT_EQ(cfg.family, "qwen3_moe");
  EXPECT_EQ(cfg.slurm.nodes, 4);
  EXPECT_EQ(cfg.slurm.partition, "gpu");
  EXPECT_EQ(cfg.slurm.extra_sbatch, std::vector<std::string>{"--exclusive"});
}

TEST(RunFile, AScreeningRunLeavesOutTheNullBaselinesAndSketches) {
  lineage::testing::TempDir d;
  const auto cfg = read_run_file(write(d, "suspect: a\nparent: b\nscreen: true\n"));
  EXPECT_TRUE(cfg.screen);
  EXPECT_EQ(cfg.null_permutations, 0);
  EXPECT_FALSE(cfg.baselines);
  EXPECT_FALSE(cfg.expert_sketches);
  EXPECT_FALSE(cfg.layer_sketches);
  EXPECT_FALSE(cfg.matched_experts);
  // What it leaves out may be said again, not asked for.
  EXPECT_TRUE(read_run_file(write(d, "suspect: a\nscreen: true\nnull_permutations: 0\nbaselines: false\n")).screen);
  for (const char* contradiction :
       {"suspect: a\nscreen: true\nnull_permutations: 5\n", "suspect: a\nscreen: true\nbaselines: true\n"}) {
    EXPECT_THROW((void)read_run_file(write(d, contradiction)), ConfigError) << contradiction;
  }
  const auto full = read_run_file(write(d, "suspect: a\nscreen: false\n"));
  EXPECT_FALSE(full.screen);
  EXPECT_EQ(full.null_permutations, 100);
  EXPECT_TRUE(full.baselines);
}

TEST(RunFile, UnitsAreReadAsEachRankFindsCheaperUnlessAWayIsAskedFor) {
  lineage::testing::TempDir d;
  EXPECT_EQ(read_run_file(write(d, "suspect: a\n")).unit_reads, UnitReads::automatic);
  EXPECT_EQ(read_run_file(write(d, "suspect: a\nread_units: auto\n")).unit_reads, UnitReads::automatic);
  EXPECT_EQ(read_run_file(write(d, "suspect: a\nread_units: copy\n")).unit_reads, UnitReads::copy);
  EXPECT_EQ(read_run_file(write(d, "suspect: a\nread_units: map\n")).unit_reads, UnitReads::map);
  try {
    (void)read_run_file(write(d, "suspect: a\nread_units: mmap\n"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("read_units: must be copy, map or auto, not \"mmap\""), std::string::npos)
        << e.what();
  }
}

TEST(RunFile, UnknownKeysAreErrorsWithTheirPath) {
  lineage::testing::TempDir d;
  try {
    (void)read_run_file(write(d, "suspect: a\nslurm:\n  nodse: 2\n"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("run.yaml:slurm.nodse: unknown key"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)read_run_file(write(d, "suspect: a\nparnets: b\n")), ConfigError);
}

TEST(RunFile, MissingSuspectWrongTypesAndBadYaml) {
  lineage::testing::TempDir d;
  EXPECT_THROW((void)read_run_file(write(d, "parents: [a]\n")), ConfigError);
  try {
    (void)read_run_file(write(d, "suspect: a\nslurm: {nodes: many}\n"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("slurm.nodes: has the wrong type"), std::string::npos);
  }
  EXPECT_THROW((void)read_run_file(write(d, "suspect: [unclosed\n")), ConfigError);
  EXPECT_THROW((void)read_run_file(d.path() / "absent.yaml"), ConfigError);
}

TEST(SlurmTime, EveryFormOfSbatchTimeIsReadInSeconds) {
  // In whole minutes, rounded up as Slurm keeps a limit.
  EXPECT_EQ(slurm_time_seconds("90"), 5400);   // minutes
  EXPECT_EQ(slurm_time_seconds("2:30"), 180);  // minutes:seconds
  EXPECT_EQ(slurm_time_seconds("2:00"), 120);
  EXPECT_EQ(slurm_time_seconds("01:02:03"), 3780);     // hours:minutes:seconds
  EXPECT_EQ(slurm_time_seconds("2-0"), 2 * 86400);     // days-hours
  EXPECT_EQ(slurm_time_seconds("1-02:03"), 93780);     // days-hours:minutes
  EXPECT_EQ(slurm_time_seconds("1-02:03:04"), 93840);  // days-hours:minutes:seconds
  EXPECT_EQ(slurm_time_seconds("0:90"), 120);          // fields past their usual range add up
  EXPECT_EQ(slurm_time_seconds("0:1"), 60);
  for (const char* none : {"0", "00:00:00", "UNLIMITED", "INFINITE", "unlimited"}) {
    EXPECT_EQ(slurm_time_seconds(none), std::nullopt) << none;  // no limit
  }
  for (const char* other : {"", "abc", "1:2:3:4", "1-2:3:4:5", "-1", "1-", "1:", ":5", "1.5", "1234567890"}) {
    EXPECT_EQ(slurm_time_seconds(other), std::nullopt) << other;  // left to sbatch
  }
}

TEST(RunFile, ATimeLimitTheSignalWouldStartIsRefused) {
  // Slurm signals at its first check with at most signal + 30 s left: a job no longer than that
  // is signalled as it starts, and with requeue runs again without end.
  lineage::testing::TempDir d;
  const auto run = [&](const std::string& slurm) { return read_run_file(write(d, "suspect: a\nslurm:\n" + slurm)); };
  try {
    (void)run("  time: \"00:02:00\"\n  signal_seconds_before_limit: 110\n");
    FAIL();
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("slurm.time: \"00:02:00\" (120 s) is at most 30 s more than signal_seconds_before_limit (110)"),
              std::string::npos)
        << what;
  }
  EXPECT_THROW((void)run("  time: \"2\"\n"), ConfigError);  // the default signal, 120 s
  EXPECT_THROW((void)run("  time: \"2:30\"\n  signal_seconds_before_limit: 150\n"), ConfigError);  // 180 s
  EXPECT_EQ(run("  time: \"2:30\"\n").slurm.time, "2:30");  // 180 s: 60 s past the default signal
  EXPECT_EQ(run("  time: \"00:02:00\"\n  signal_seconds_before_limit: 80\n").slurm.signal_seconds_before_limit, 80);
  EXPECT_EQ(run("  time: \"1\"\n  signal_seconds_before_limit: 0\n").slurm.time, "1");  // no signal
  EXPECT_EQ(run("  time: UNLIMITED\n").slurm.time, "UNLIMITED");
  try {
    (void)run("  signal_seconds_before_limit: -5\n");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("slurm.signal_seconds_before_limit: must be 0 (no signal) or more"),
              std::string::npos)
        << e.what();
  }
}

// A dispute ready to reopen (cases/*/run.yaml): the published repos, pinned, with expected sizes.
TEST(RunFile, CaseSectionIsReadAndChecked) {
  lineage::testing::TempDir d;
  const auto good = R"(
suspect: suspect
parents: [p]
controls: [c1, c2]
case:
  name: demo
  claim: trained from scratch
  questions: ["is it derived from p?"]
  suspect: {repo: org/suspect, revision: main, expected_params_billions: 102.6}
  parents: [{repo: org/p, revision: 0123abc, expected_bytes: 1000, note: claimed parent}]
  controls: [{repo: org/c1, revision: main}, {repo: org/c2, revision: v1}]
)";
  const auto info = read_case(write(d, good));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->name, "demo");
  ASSERT_EQ(info->questions.size(), 1u);
  EXPECT_EQ(info->suspect.repo, "org/suspect");
  ASSERT_TRUE(info->suspect.expected_params_billions.has_value());
  EXPECT_DOUBLE_EQ(*info->suspect.expected_params_billions, 102.6);
  ASSERT_EQ(info->parents.size(), 1u);
  EXPECT_EQ(info->parents[0].revision, "0123abc");
  EXPECT_EQ(info->parents[0].expected_bytes, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(info->controls[1].revision, "v1");
  EXPECT_FALSE(read_case(write(d, "suspect: s\n")).has_value());

  auto fails_with = [&](const std::string& text, const std::string& where) {
    try {
      (void)read_run_file(write(d, text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    }
  };
  fails_with("suspect: s\ncase: {suspect: {repo: a/b, revision: main}, nmae: x}\n", "case.nmae");
  fails_with("suspect: s\ncase: {suspect: {repo: a/b, revison: main}}\n", "case.suspect.revison");
  fails_with("suspect: s\ncase: {suspect: {repo: a/b}}\n", "case.suspect.revision");
  fails_with("suspect: s\ncase: {name: x}\n", "case.suspect");
  fails_with("suspect: s\nparents: [p]\ncase: {suspect: {repo: a/b, revision: main}}\n", "case.parents");
  fails_with("suspect: s\ncase: {suspect: {repo: a/b, revision: main, expected_bytes: lots}}\n",
             "case.suspect.expected_bytes");
}

}  // namespace
}  // namespace lineage::io
