#include <boost/program_options.hpp>
#include <iostream>

#include "core/errors.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/data_dirs.hpp"
#include "tools/synth/registry_expand.hpp"
#include "tools/synth/scenarios.hpp"
#include "tools/synth/synth_style.hpp"
#include "tools/synth/write_model.hpp"
#include "tools/synth/write_suite.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace po = boost::program_options;

// `--set key=value`: the value is parsed as JSON when it parses (numbers, lists, booleans),
// otherwise kept as a string, so `--set num_hidden_layers=6` overrides with an integer.
nlohmann::json parse_overrides(const std::vector<std::string>& sets) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--set expects KEY=VALUE, got '" + s + "'");
    const auto value = s.substr(eq + 1);
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    out[s.substr(0, eq)] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
  }
  return out;
}

}  // namespace

int synth(const std::vector<std::string>& args) {
  CommandLine command_line(
      "synth",
      "lineage synth — small HF-style MoE checkpoints with known provenance (docs/synth.md)\n\n"
      "  lineage synth --scenario S --out DIR [--seed N] [--style STYLE] [--base DIR] [--realistic] [--block-fp8]\n"
      "  lineage synth --suite DIR [--seed N] [--style STYLE] [--realistic]\n\noptions",
      "");
  std::vector<std::string> sets;
  command_line.options()("scenario", po::value<std::string>(), "base, dense_parent, or a scenario (see --list)")(
      "out", po::value<std::string>(), "output model folder (replaced if it exists)")(
      "suite", po::value<std::string>(), "write base, dense_parent and every scenario into DIR/<name>/")(
      "seed", po::value<std::uint64_t>()->default_value(2), "seed of the scenario's own randomness")(
      "base-seed", po::value<std::uint64_t>()->default_value(1), "seed of the base model (without --base)")(
      "base", po::value<std::string>(),
      "base model folder written by synth (its provenance.json gives style and seed)")(
      "style", po::value<std::string>()->default_value("qwen2_moe"), "naming style (tools/synth/styles/)")(
      "set", po::value<std::vector<std::string>>(&sets)->composing(), "config override KEY=VALUE (repeatable)")(
      "families", po::value<std::string>(), "family files folder (default: built-in families/)")(
      "realistic",
      "trained-like values instead of i.i.d.: embedding mean direction, token-frequency "
      "row norms, low rank, outlier dimensions, structured norms (docs/synth.md); "
      "with --base, taken from the base folder")(
      "block-fp8",
      "store the linear weights as a block-FP8 release does (DeepSeek-V3's layout: F8_E4M3 codes and an "
      "F32 weight_scale_inv per 128 x 128 block), with its quantization_config")("list", "list styles and scenarios");
  const auto parsed = command_line.parse(args);
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  const auto styles_dir = default_styles_dir();
  if (vm.count("list")) {
    std::cout << "styles:";
    for (const auto& s : tools::list_styles(styles_dir)) std::cout << " " << s;
    std::cout << "\nscenarios: base dense_parent";
    for (const auto& s : tools::scenario_names()) std::cout << " " << s;
    std::cout << "\n";
    return 0;
  }
  const std::filesystem::path families =
      vm.count("families") ? std::filesystem::path(vm["families"].as<std::string>()) : default_families_dir();
  const FamilyRegistry registry = io::load_family_registry(families);
  const auto expand = tools::make_expand(registry);
  const auto overrides = parse_overrides(sets);
  const auto seed = vm["seed"].as<std::uint64_t>();
  auto values = vm.count("realistic") ? tools::ValueModel::realistic : tools::ValueModel::iid;

  if (vm.count("suite")) {
    if (vm.count("scenario") || vm.count("out") || vm.count("base") || vm.count("block-fp8")) {
      throw UsageError("synth: --suite cannot be combined with --scenario, --out, --base or --block-fp8");
    }
    const auto style = tools::load_style(styles_dir, vm["style"].as<std::string>(), overrides);
    const std::filesystem::path dir = vm["suite"].as<std::string>();
    for (const auto& name : tools::write_suite(dir, style, seed, expand, values)) {
      std::cout << (dir / name).string() << "\n";
    }
    return 0;
  }
  if (!vm.count("scenario") || !vm.count("out")) {
    throw UsageError("synth: give --scenario and --out, or --suite (see lineage synth --help)");
  }
  const auto scenario = vm["scenario"].as<std::string>();
  const std::filesystem::path out = vm["out"].as<std::string>();

  // The base is regenerated in memory from (style, seed): generation is deterministic, so this
  // equals the folder's tensors without reading them back.
  std::string style_name = vm["style"].as<std::string>();
  std::uint64_t base_seed = vm["base-seed"].as<std::uint64_t>();
  std::string parent_name = "base";
  nlohmann::json base_overrides = overrides;
  if (vm.count("base")) {
    const std::filesystem::path base_dir = vm["base"].as<std::string>();
    const auto prov = io::read_json_file(base_dir / "provenance.json");
    if (prov.value("scenario", "") != "base") {
      throw ConfigError((base_dir / "provenance.json").string() + ":scenario",
                        "--base must be a folder written by `lineage synth --scenario base`");
    }
    style_name = prov.value("style", style_name);
    base_seed = prov.value("seed", base_seed);
    if (prov.contains("overrides")) base_overrides = prov.at("overrides");
    // The base is regenerated, so its value model must be the folder's.
    const auto base_values =
        prov.value("values", "") == "realistic" ? tools::ValueModel::realistic : tools::ValueModel::iid;
    if (vm.count("realistic") && base_values != tools::ValueModel::realistic) {
      throw UsageError("synth: --realistic, but " + (base_dir / "provenance.json").string() +
                       " is an i.i.d. base (written without --realistic)");
    }
    values = base_values;
    parent_name = std::filesystem::absolute(base_dir).lexically_normal().filename().string();
  }
  const auto style = tools::load_style(styles_dir, style_name, base_overrides);
  tools::SynthModel model;
  if (scenario == "base") {
    model = tools::make_base(style, seed, expand, values);
  } else if (scenario == "dense_parent") {
    model = tools::make_dense_parent(style, seed, expand, values);
  } else {
    const auto base = tools::make_base(style, base_seed, expand, values);
    std::optional<tools::SynthModel> dense;
    tools::ScenarioInputs in;
    in.style = &style;
    in.base = &base;
    in.parent_name = parent_name;
    in.seed = seed;
    in.expand = expand;
    if (scenario == "upcycled" || scenario == "upcycled_permuted") {
      dense = tools::make_dense_parent(style, base_seed + 1000, expand, values);
      in.dense_parent = &*dense;
      in.dense_parent_name = "dense_parent(seed " + std::to_string(base_seed + 1000) + ")";
    }
    model = tools::make_scenario(scenario, in);
  }
  model.provenance["overrides"] = base_overrides;
  if (vm.count("block-fp8")) model.provenance["stored"] = "block_fp8";
  tools::write_model(model, out, vm.count("block-fp8") ? &registry.quantisation() : nullptr);
  std::cout << out.string() << "\n";
  return 0;
}

}  // namespace lineage::pipeline::commands
