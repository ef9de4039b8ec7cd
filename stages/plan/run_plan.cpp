#include "stages/plan/run_plan.hpp"

#include <algorithm>

#include "io/store/model_fingerprint.hpp"
#include "stages/pair/token_mapped_units.hpp"

namespace lineage::stages {

bool RunPlan::comparable() const noexcept {
  return std::any_of(pairs.units.begin(), pairs.units.end(), [](const ComparisonUnit& u) {
    return u.kind == UnitKind::same_key || u.kind == UnitKind::submatrix;
  });
}

std::uint64_t RunPlan::bytes() const noexcept {
  std::uint64_t total = 0;
  for (const auto& u : pairs.units) total += u.bytes();
  return total;
}

std::string unit_digest_entry(std::string_view key_a, std::string_view key_b) {
  std::string entry;
  entry.reserve(key_a.size() + key_b.size() + 2);
  entry.append(key_a).append("|").append(key_b).append(";");
  return entry;
}

std::string unit_digest_entry(const TensorKey& key_a, const TensorKey& key_b) {
  return unit_digest_entry(to_string(key_a), to_string(key_b));
}

std::vector<io::StoredUnit> stored_units(const std::vector<ComparisonUnit>& units) {
  std::vector<io::StoredUnit> out;
  out.reserve(units.size());
  for (const auto& u : units) {
    out.push_back({u.id, u.kind, u.key_a, u.key_b, u.a.tensor, u.b.tensor, u.a.model, u.b.model, u.key_a.layer,
                   u.key_b.layer, u.key_a.expert, u.rows, u.cols, u.bytes()});
  }
  return out;
}

RunPlan build_run_plan(const RunConfig& config, const FamilyRegistry& registry, const RunPlanOptions& options) {
  const auto step = [&](std::string_view name) {
    if (options.before_step) options.before_step(name);
  };
  RunPlan plan;
  step("load");
  plan.models = load_run_models(config, registry, options.planning_only, options.remote);
  if (!options.planning_only) {
    for (const auto& m : plan.models) {
      auto f = io::fingerprint_model(m.label, m.dir, m.shard_files);
      f.family = m.inventory.family;
      f.tensors = m.inventory.tensors.size();
      plan.fingerprints.push_back(std::move(f));
    }
  }
  step("pair");
  std::vector<const Inventory*> inventories;
  for (const auto& m : plan.models) inventories.push_back(&m.inventory);
  PairOptions pair_options;
  pair_options.baselines = config.baselines;
  pair_options.expert_sketches = config.expert_sketches;
  pair_options.layer_sketches = config.layer_sketches;
  pair_options.sizes_only = options.planning_only;
  plan.pairs = pair_models(inventories, pair_options);
  // The same units when planning: the tokenizers are read as the other model files are, from a
  // folder or (planning only) a remote location.
  TokenMappedOptions token_options;
  token_options.sizes_only = options.planning_only;
  token_options.remote = options.remote;
  add_token_mapped_units(plan.pairs, inventories, token_options);
  for (const auto& u : plan.pairs.units) plan.digest += unit_digest_entry(u.key_a, u.key_b);
  return plan;
}

}  // namespace lineage::stages
