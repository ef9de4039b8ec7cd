#pragma once
/// @file scenarios.hpp
/// Models with known provenance relative to a base model (docs/synth.md defines each one).
/// Every derived model records its ground truth in SynthModel::provenance.

#include <cstdint>
#include <string>
#include <vector>

#include "tools/synth/realistic_values.hpp"
#include "tools/synth/synth_model.hpp"
#include "tools/synth/synth_style.hpp"

namespace lineage::tools {

/// The scenario names `lineage synth --scenario` accepts, in suite order.
[[nodiscard]] const std::vector<std::string>& scenario_names();

/// The base model of a style (provenance scenario "base"). `values` chooses i.i.d. or
/// trained-like (realistic) values; provenance.json records it as `values`.
[[nodiscard]] SynthModel make_base(const SynthStyle& style, std::uint64_t seed, const ExpandFn& expand,
                                   ValueModel values = ValueModel::iid);

/// The dense model that `upcycled` starts from (style.dense_family). ConfigError if the style
/// has no dense parent.
[[nodiscard]] SynthModel make_dense_parent(const SynthStyle& style, std::uint64_t seed, const ExpandFn& expand,
                                           ValueModel values = ValueModel::iid);

/// The value model a synth model was generated with (its provenance `values`, iid if absent).
/// Derived scenarios inherit it: fresh tensors they draw (independent models, new routers,
/// appended vocabulary rows) follow their parent's value model.
[[nodiscard]] ValueModel value_model_of(const SynthModel& m);

struct ScenarioInputs {
  const SynthStyle* style = nullptr;
  const SynthModel* base = nullptr;          ///< required by every scenario
  const SynthModel* dense_parent = nullptr;  ///< required by `upcycled` only
  std::string parent_name;                   ///< folder name recorded in provenance.json
  std::string dense_parent_name;
  std::uint64_t seed = 0;  ///< randomness of the derivation itself
  ExpandFn expand;
};

/// Derives the model of `scenario`. ConfigError for an unknown scenario name.
[[nodiscard]] SynthModel make_scenario(const std::string& scenario, const ScenarioInputs& in);

}  // namespace lineage::tools
