#include "stages/inventory/inventory.hpp"

#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "io/model_source.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/data_dirs.hpp"
#include "pipeline/environment.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace po = boost::program_options;

std::string shape_text(const std::vector<std::uint64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string human(std::uint64_t n) {
  std::ostringstream o;
  if (n >= 1'000'000'000)
    o << std::fixed << std::setprecision(2) << static_cast<double>(n) / 1e9 << "B";
  else if (n >= 1'000'000)
    o << std::fixed << std::setprecision(2) << static_cast<double>(n) / 1e6 << "M";
  else if (n >= 1'000)
    o << std::fixed << std::setprecision(1) << static_cast<double>(n) / 1e3 << "K";
  else
    o << n;
  return o.str();
}

nlohmann::json to_json(const stages::Inventory& inv, bool list) {
  nlohmann::json j;
  j["model_dir"] = inv.model_dir;
  j["family"] = inv.family;
  j["family_reason"] = inv.family_reason;
  j["notes"] = inv.notes;
  j["generic"] = inv.generic;
  j["choices"] = inv.choices;
  j["index_only"] = inv.index_only;
  j["tensors"] = inv.tensors.size();
  j["total_params"] = inv.total_params;
  j["active_params"] = inv.active_params;
  j["total_bytes"] = inv.total_bytes;
  if (inv.index_total_size) j["index_total_size"] = *inv.index_total_size;
  if (inv.index_total_parameters) j["index_total_parameters"] = *inv.index_total_parameters;
  if (inv.experts) j["experts"] = *inv.experts;
  if (inv.top_k) j["top_k"] = *inv.top_k;
  auto& roles = j["roles"] = nlohmann::json::array();
  for (const auto& r : inv.roles) {
    std::vector<std::string> dt;
    for (auto d : r.dtypes) dt.emplace_back(to_string(d));
    roles.push_back({{"component", to_string(r.component)},
                     {"role", to_string(r.role)},
                     {"tensors", r.tensors},
                     {"params", r.params},
                     {"bytes", r.bytes},
                     {"layers", r.layers},
                     {"experts_per_layer", r.experts_per_layer},
                     {"dtypes", dt}});
  }
  j["unclaimed"] = inv.unclaimed;
  j["required_missing"] = inv.required_missing;
  j["optional_missing"] = inv.optional_missing;
  j["unindexed"] = inv.unindexed;
  auto& mism = j["shape_mismatches"] = nlohmann::json::array();
  for (const auto& m : inv.shape_mismatches)
    mism.push_back({{"name", m.name}, {"expected", m.expected}, {"actual", m.actual}});
  if (list) {
    auto& all = j["list"] = nlohmann::json::array();
    for (const auto& t : inv.tensors) {
      nlohmann::json e{{"name", t.name}, {"key", to_string(t.key)}, {"file", t.file}};
      if (t.shape_known) e["shape"] = t.shape;
      if (t.dtype) e["dtype"] = std::string(to_string(*t.dtype));
      if (!t.expected) e["expected_by_config"] = false;
      all.push_back(std::move(e));
    }
  }
  return j;
}

void print_list(const char* title, const std::vector<std::string>& names, std::ostream& out, std::size_t limit = 20) {
  if (names.empty()) return;
  out << title << " (" << names.size() << "):\n";
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out << "  " << terminal_safe(names[i]) << "\n";
  if (names.size() > limit) out << "  ... and " << names.size() - limit << " more (--json lists all)\n";
}

void print_text(const stages::Inventory& inv, bool list, std::ostream& out) {
  out << "model:    " << inv.model_dir << (inv.index_only ? "  (index only: shapes from config.json)" : "") << "\n";
  out << "family:   " << inv.family << "  (chosen by " << inv.family_reason << ")\n";
  for (const auto& n : inv.notes) out << "note:     " << n << "\n";
  for (const auto& c : inv.choices) out << "layout:   " << c << "\n";
  out << "tensors:  " << inv.tensors.size() << "   parameters: " << human(inv.total_params) << " total, "
      << human(inv.active_params) << " active";
  if (inv.experts && inv.top_k) out << " (top-" << *inv.top_k << " of " << *inv.experts << " experts)";
  out << "   bytes: " << inv.total_bytes << "\n";
  if (inv.index_total_size) {
    out << "index:    total_size " << *inv.index_total_size;
    if (inv.index_total_parameters) out << ", total_parameters " << *inv.index_total_parameters;
    out << "\n";
  }
  out << "\n"
      << std::left << std::setw(10) << "component" << std::setw(20) << "role" << std::right << std::setw(8) << "tensors"
      << std::setw(10) << "params" << std::setw(8) << "layers" << std::setw(9) << "experts"
      << "  dtypes\n";
  for (const auto& r : inv.roles) {
    std::string dt;
    for (auto d : r.dtypes) dt += (dt.empty() ? "" : ",") + std::string(to_string(d));
    out << std::left << std::setw(10) << to_string(r.component) << std::setw(20) << to_string(r.role) << std::right
        << std::setw(8) << r.tensors << std::setw(10) << human(r.params) << std::setw(8) << r.layers << std::setw(9)
        << (r.experts_per_layer ? std::to_string(r.experts_per_layer) : "-") << "  " << dt << "\n";
  }
  out << "\n";
  print_list("unclaimed tensors (not described by the family file)", inv.unclaimed, out);
  print_list("missing tensors the config calls for", inv.required_missing, out);
  print_list("optional tensors absent", inv.optional_missing, out, 5);
  print_list("tensors in shards but not in the index", inv.unindexed, out);
  if (!inv.shape_mismatches.empty()) {
    out << "shape mismatches (" << inv.shape_mismatches.size() << "):\n";
    for (std::size_t i = 0; i < inv.shape_mismatches.size() && i < 20; ++i) {
      const auto& m = inv.shape_mismatches[i];
      out << "  " << terminal_safe(m.name) << ": config says " << shape_text(m.expected) << ", file has "
          << shape_text(m.actual) << "\n";
    }
  }
  if (inv.clean()) out << "every tensor accounted for\n";
  if (list) {
    out << "\n";
    for (const auto& t : inv.tensors) {
      out << terminal_safe(t.name) << "\t" << to_string(t.key) << "\t" << (t.shape_known ? shape_text(t.shape) : "?")
          << "\t" << (t.dtype ? to_string(*t.dtype) : "?") << "\n";
    }
  }
}

}  // namespace

int inventory(const std::vector<std::string>& args) {
  CommandLine command_line("inventory",
                           "lineage inventory MODEL_DIR [options]\n\n"
                           "Classifies every tensor of a Hugging Face checkpoint folder into a canonical key\n"
                           "(component, role, layer, expert, projection). Reads the index and the shard headers\n"
                           "only, never tensor data.\n\noptions",
                           "exit codes: 0 ok, 2 usage, 3 bad input (or --strict findings), 4 bad family files\n");
  command_line.options()("json", "machine-readable output")("list", "list every tensor with its key, shape and dtype")(
      "index-only", "use only config.json and the index (shards need not exist); shapes come from config.json")(
      "family", po::value<std::string>(), "use this family instead of detecting it")(
      "families", po::value<std::string>(), "folder of family files (default: the built-in families/)")(
      "strict", "exit with code 3 if any tensor is unclaimed, a required tensor is missing, or a shape differs");
  command_line.hidden()("model", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"model", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("model")) throw UsageError("inventory: MODEL_DIR is required (see lineage inventory --help)");
  const std::filesystem::path dir = vm["model"].as<std::string>();
  const auto registry = io::load_family_registry(
      vm.count("families") ? std::filesystem::path(vm["families"].as<std::string>()) : default_families_dir());
  const auto source = io::open_model(dir.string(), remote_options());  // a folder, or a URL read by its headers
  const auto listing = io::list_checkpoint(*source, vm.count("index-only") > 0);
  const auto config = io::read_model_config(*source);
  std::optional<std::string> family;
  if (vm.count("family")) family = vm["family"].as<std::string>();
  const auto inv = stages::build_inventory(listing, config ? &*config : nullptr, registry, family);
  if (vm.count("json")) {
    std::cout << to_json(inv, vm.count("list") > 0).dump(2) << "\n";
  } else {
    print_text(inv, vm.count("list") > 0, std::cout);
  }
  if (vm.count("strict") && !inv.clean()) {
    std::cerr << "lineage: error: " << dir.string() << ": " << inv.unclaimed.size() << " unclaimed, "
              << inv.required_missing.size() << " missing, " << inv.shape_mismatches.size()
              << " shape mismatches (--strict)\n";
    return static_cast<int>(ExitCode::input);
  }
  return 0;
}

}  // namespace lineage::pipeline::commands
