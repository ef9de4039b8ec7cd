#include "io/run_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.hpp"
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

}  // namespace
}  // namespace lineage::io
