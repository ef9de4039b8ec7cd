#include "stages/plan/run_plan.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <new>

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

UnitListDigest::UnitListDigest() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}

UnitListDigest::~UnitListDigest() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void UnitListDigest::add(const TensorKey& key_a, const TensorKey& key_b) {
  // Fixed-width fields in a fixed order, so the digest does not depend on TensorKey's padding.
  std::array<std::int32_t, 14> fields{};
  std::size_t n = 0;
  for (const auto* k : {&key_a, &key_b}) {
    fields[n++] = static_cast<std::int32_t>(k->component);
    fields[n++] = static_cast<std::int32_t>(k->role);
    fields[n++] = k->layer;
    fields[n++] = k->expert;
    fields[n++] = static_cast<std::int32_t>(k->projection);
    fields[n++] = static_cast<std::int32_t>(k->kind);
    fields[n++] = k->index;
  }
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), fields.data(), sizeof fields);
}

std::string UnitListDigest::hex() const {
  const auto h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return text;
}

io::SpilledVector<io::StoredUnit> stored_units(std::span<const ComparisonUnit> units) {
  io::SpilledVector<io::StoredUnit> out;
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
  if (config.screen) {
    for (auto& u : plan.pairs.units) u.screen = true;
  }
  UnitListDigest digest;
  for (const auto& u : plan.pairs.units) digest.add(u.key_a, u.key_b);
  plan.digest = digest.hex();
  return plan;
}

}  // namespace lineage::stages
