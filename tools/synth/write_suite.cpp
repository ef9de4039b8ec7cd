#include "tools/synth/write_suite.hpp"

#include "tools/synth/scenarios.hpp"
#include "tools/synth/write_model.hpp"

namespace lineage::tools {

ScenarioInputs suite_scenario_inputs(const SynthStyle& style, const SynthModel& base, const SynthModel& dense_parent,
                                     const ExpandFn& expand) {
  ScenarioInputs in;
  in.style = &style;
  in.base = &base;
  in.dense_parent = &dense_parent;
  in.parent_name = "base";
  in.dense_parent_name = "dense_parent";
  in.expand = expand;
  return in;
}

std::vector<std::string> write_suite(const std::filesystem::path& dir, const SynthStyle& style, std::uint64_t seed,
                                     const ExpandFn& expand, ValueModel values) {
  std::vector<std::string> written;
  const SynthModel base = make_base(style, seed, expand, values);
  write_model(base, dir / "base");
  written.emplace_back("base");
  const SynthModel dense = make_dense_parent(style, seed + 1000, expand, values);
  write_model(dense, dir / "dense_parent");
  written.emplace_back("dense_parent");
  ScenarioInputs in = suite_scenario_inputs(style, base, dense, expand);
  std::uint64_t i = 0;
  for (const auto& name : scenario_names()) {
    in.seed = seed + 1 + i++;
    write_model(make_scenario(name, in), dir / name);
    written.push_back(name);
  }
  return written;
}

}  // namespace lineage::tools
