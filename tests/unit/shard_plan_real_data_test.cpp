// lineage plan on the real weight maps of tests/data/real (config.json + index, no shards):
// each model paired with itself as a run would, planned at 8 to 1024 ranks. LPT keeps the
// busiest rank within 3% of the mean wherever unit sizes allow it (the largest unit at most 3% of
// the mean per rank), and within Graham's 4/3 of the lower bound everywhere.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/family_file.hpp"
#include "stages/pair/pair_models.hpp"
#include "stages/plan/run_models.hpp"
#include "stages/plan/shard_plan.hpp"

namespace lineage {
namespace {

namespace fs = std::filesystem;
const fs::path kReal = std::string(LINEAGE_TEST_DATA_DIR) + "/real";

std::vector<std::string> weight_maps() {
  std::vector<std::string> out;
  for (const auto& d : fs::directory_iterator(kReal)) {
    if (fs::exists(d.path() / "model.safetensors.index.json") && fs::exists(d.path() / "config.json")) {
      out.push_back(d.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Units of a run pairing the real map with itself, sized from config.json + index.
std::vector<stages::UnitCost> real_costs(const std::string& name) {
  static const auto registry = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  RunConfig cfg;
  cfg.suspect = (kReal / name).string();
  cfg.parents = {cfg.suspect};
  EXPECT_TRUE(stages::shards_missing(cfg.suspect));
  const auto models = stages::load_run_models(cfg, registry, /*allow_index_only=*/true);
  EXPECT_TRUE(models[0].index_only);
  std::vector<const stages::Inventory*> invs{&models[0].inventory, &models[1].inventory};
  stages::PairOptions popt;
  popt.sizes_only = true;
  const auto pairs = stages::pair_models(invs, popt);
  std::vector<stages::UnitCost> costs;
  for (const auto& u : pairs.units) costs.push_back({u.id, u.bytes()});
  return costs;
}

/// Checks every rank count from 8 to 1024; returns how many allowed a 3% balance.
int check_plans(const std::vector<stages::UnitCost>& costs) {
  int balanced_checked = 0;
  for (int ranks = 8; ranks <= 1024; ranks *= 2) {
    const auto plan = stages::plan_shards(costs, ranks);
    EXPECT_EQ(plan.units_of_rank.size(), static_cast<std::size_t>(ranks));
    std::size_t assigned = 0;
    for (const auto& r : plan.units_of_rank) assigned += r.size();
    EXPECT_EQ(assigned, costs.size());
    const double mean = static_cast<double>(plan.total_bytes()) / ranks;
    EXPECT_LE(static_cast<double>(plan.max_rank_bytes()), 4.0 / 3.0 * static_cast<double>(plan.lower_bound_bytes()))
        << ranks << " ranks";
    if (static_cast<double>(plan.largest_unit_bytes) <= 0.03 * mean) {
      EXPECT_LT(plan.imbalance(), 0.03) << ranks << " ranks, largest unit " << plan.largest_unit_bytes << ", mean "
                                        << mean;
      ++balanced_checked;
    }
  }
  return balanced_checked;
}

class RealPlan : public ::testing::TestWithParam<std::string> {};

TEST_P(RealPlan, BalancedFrom8To1024Ranks) {
  const auto costs = real_costs(GetParam());
  ASSERT_GT(costs.size(), 100u);
  (void)check_plans(costs);
}

TEST(RealPlanScale, LargeMoeMapsBalanceWithin3PercentUpToHundredsOfRanks) {
  // Many expert-sized units: the 3% claim applies up to tens of ranks. Dense maps with
  // 2-5 GB embedding units do not allow it at these rank counts (whole tensors are the unit).
  // Baselines read only the null's sampled rows, so the whole-tensor units weigh more than they
  // did when baselines read everything: the claim holds at fewer rank counts.
  EXPECT_GE(check_plans(real_costs("microsoft__WizardLM-2-8x22B")), 2);   // 8, 16
  EXPECT_GE(check_plans(real_costs("mistralai__Mixtral-8x7B-v0.1")), 1);  // 8
  (void)check_plans(real_costs("tiiuae__falcon-180B-chat"));
}

INSTANTIATE_TEST_SUITE_P(Real, RealPlan, ::testing::ValuesIn(weight_maps()), [](const auto& param_info) {
  std::string n = param_info.param;
  for (auto& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
});

}  // namespace
}  // namespace lineage
