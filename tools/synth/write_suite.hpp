#pragma once
/// @file write_suite.hpp
/// `lineage synth --suite DIR`: the base model, a dense parent and every scenario, each in
/// DIR/<name>/, with consistent seeds and parent names.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/synth/realistic_values.hpp"
#include "tools/synth/scenarios.hpp"
#include "tools/synth/synth_model.hpp"
#include "tools/synth/synth_style.hpp"

namespace lineage::tools {

/// The inputs every scenario of a suite shares: the base ("base") and the dense parent
/// ("dense_parent") it derives from; the caller sets each scenario's seed. The models must
/// outlive the result.
[[nodiscard]] ScenarioInputs suite_scenario_inputs(const SynthStyle& style, const SynthModel& base,
                                                   const SynthModel& dense_parent, const ExpandFn& expand);

/// Writes DIR/base, DIR/dense_parent and DIR/<scenario> for every scenario_names() entry.
/// Scenario i uses seed `seed + 1 + i`; the dense parent `seed + 1000`. Returns folder names.
/// `values`: i.i.d. or trained-like (realistic) base and dense parent; every scenario follows.
std::vector<std::string> write_suite(const std::filesystem::path& dir, const SynthStyle& style, std::uint64_t seed,
                                     const ExpandFn& expand, ValueModel values = ValueModel::iid);

}  // namespace lineage::tools
