#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/catalog_file.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/family_file.hpp"
#include "io/hf_config.hpp"
#include "io/model_source.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/commands/text_table.hpp"
#include "pipeline/data_dirs.hpp"
#include "pipeline/environment.hpp"
#include "pipeline/evidence_record.hpp"
#include "stages/architecture/architecture_profile.hpp"
#include "stages/architecture/catalog_ranking.hpp"
#include "stages/inventory/inventory.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace fs = std::filesystem;
using stages::ArchitectureProfile;

/// H100 SXM dense BF16 peak (989 TFLOP/s) at 40 % model-FLOP utilisation, a common planning figure.
constexpr double kDefaultGpuFlops = 989e12 * 0.40;

std::string with_commas(std::uint64_t n) {
  const auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string billions(const std::optional<std::uint64_t>& n) {
  if (!n) return "-";
  std::ostringstream o;
  o << std::fixed << std::setprecision(2) << static_cast<double>(*n) / 1e9 << " B";
  return o.str();
}

std::string sci(double x) {
  std::ostringstream o;
  o << std::scientific << std::setprecision(2) << x;
  return o.str();
}

/// A config.json file or a model folder; a folder's weight map (if any) adds tensor breadcrumbs.
/// The model folder of an input: a local folder, a config.json file's folder, or a remote
/// folder (a URL ending in /config.json names its folder).
std::unique_ptr<io::ModelSource> open_input(const std::string& input) {
  if (io::is_remote_location(input)) {
    std::string folder = input;
    const std::string suffix = "/config.json";
    if (folder.size() > suffix.size() && folder.compare(folder.size() - suffix.size(), suffix.size(), suffix) == 0)
      folder.resize(folder.size() - suffix.size());
    return io::open_model(folder, remote_options());
  }
  return io::open_local_model(fs::is_directory(input) ? fs::path(input) : fs::path(input).parent_path());
}

std::optional<nlohmann::json> read_input_config(const std::string& input, io::ModelSource& source) {
  return source.is_remote() ? io::read_model_config(source) : io::read_model_config(input);
}

ArchitectureProfile profile_input(const std::string& input, const FamilyRegistry& registry) {
  const auto source = open_input(input);
  const auto config = read_input_config(input, *source);
  if (!config) throw InputError(input, "no config.json (give a config.json file or a model folder with one)");
  auto p = stages::profile_architecture(*config, registry, input);
  if (!p.family.empty() && (source->exists(io::kIndexFileName) || source->exists(io::kSingleFileName))) {
    try {
      const auto listing = io::list_checkpoint(*source, /*index_only=*/true);
      const auto inv = stages::build_inventory(listing, &*config, registry, p.family);
      p.notes.push_back("weight map read: " + std::to_string(listing.tensors.size()) + " tensors, " +
                        std::to_string(inv.unclaimed.size()) + " the family does not name");
      stages::add_tensor_breadcrumbs(p, registry, inv.unclaimed);
      std::size_t missing_mtp = 0;
      for (const auto& n : inv.required_missing) missing_mtp += n.find("eh_proj") != std::string::npos;
      if (missing_mtp) {
        p.breadcrumbs.push_back("the config names MTP layers, but the weight map has none of their tensors (" +
                                std::to_string(missing_mtp) + " eh_proj missing): a config copied from another model");
      }
      if (listing.index_total_size && *listing.index_total_size > 0 && p.total_bytes) {
        const double ratio = static_cast<double>(*p.total_bytes) / static_cast<double>(*listing.index_total_size);
        if (std::abs(ratio - 1.0) > 0.01) {
          p.notes.push_back("bytes derived from the config (" + with_commas(*p.total_bytes) +
                            ") differ from the weight map's total_size (" + with_commas(*listing.index_total_size) +
                            ")");
        }
      }
    } catch (const Error& e) {
      p.notes.push_back(std::string("weight map not read: ") + e.what());
    }
  }
  return p;
}

nlohmann::json fact_json(const stages::ArchitectureFact& f) {
  nlohmann::json j{{"value", f.value == "-" ? nlohmann::json(nullptr) : nlohmann::json(f.value)},
                   {"config_key", f.spelled}};
  if (f.unconfirmed) j["unconfirmed"] = true;
  return j;
}

nlohmann::json profile_json(const ArchitectureProfile& p) {
  nlohmann::json j{{"source", p.source},
                   {"family", p.family},
                   {"model_type", p.model_type},
                   {"architectures", p.architectures},
                   {"attention_type", p.attention_type},
                   {"moe", p.moe}};
  auto opt = [](const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  j["total_params"] = opt(p.total_params);
  j["active_params"] = opt(p.active_params);
  j["total_bytes"] = opt(p.total_bytes);
  for (const auto& f : p.core) j["core"][f.key] = fact_json(f);
  for (const auto& f : p.extended) j["extended"][f.key] = fact_json(f);
  j["towers"] = nlohmann::json::array();
  for (const auto& t : p.towers) {
    j["towers"].push_back({{"config_key", t.config_key},
                           {"model_type", t.model_type},
                           {"family", t.family},
                           {"probably_reused", t.foreign},
                           {"params", t.params}});
  }
  j["breadcrumbs"] = p.breadcrumbs;
  j["notes"] = p.notes;
  return j;
}

std::string cell(const stages::ArchitectureFact& f) { return f.unconfirmed ? f.value + " (?)" : f.value; }

void print_profiles(const std::vector<ArchitectureProfile>& ps, TableStyle style, const std::optional<double>& tokens,
                    double gpu_flops) {
  std::vector<std::string> header{"key"};
  for (std::size_t i = 0; i < ps.size(); ++i) header.push_back(std::string(1, static_cast<char>('A' + i)));
  TextTable models({"", "model", "family", "model_type"});
  for (std::size_t i = 0; i < ps.size(); ++i) {
    models.add({header[i + 1], ps[i].source, ps[i].family.empty() ? "(none)" : ps[i].family, ps[i].model_type});
  }
  models.print(std::cout, style);
  std::cout << "\n";
  TextTable t(header);
  auto add_rows = [&](auto member) {
    for (std::size_t r = 0; r < (ps.front().*member).size(); ++r) {
      std::vector<std::string> row{(ps.front().*member)[r].key};
      for (const auto& p : ps) row.push_back(cell((p.*member)[r]));
      t.add(row);
    }
  };
  add_rows(&ArchitectureProfile::core);
  t.separator();
  add_rows(&ArchitectureProfile::extended);
  t.separator();
  std::vector<std::string> total{"parameters (total)"}, active{"parameters (active)"};
  for (const auto& p : ps) {
    total.push_back(billions(p.total_params));
    active.push_back(billions(p.active_params));
  }
  t.add(total);
  t.add(active);
  if (tokens) {
    std::vector<std::string> flops{"training compute (FLOPs)"}, hours{"GPU-hours"};
    for (const auto& p : ps) {
      if (!p.active_params) {
        flops.push_back("-");
        hours.push_back("-");
        continue;
      }
      const auto c = stages::estimate_training_compute(*p.active_params, *tokens, gpu_flops);
      flops.push_back(sci(c.flops));
      hours.push_back(sci(c.gpu_hours));
    }
    t.add(flops);
    t.add(hours);
  }
  t.print(std::cout, style);
  const bool md = style == TableStyle::markdown;
  if (tokens) {
    std::cout << "\ncompute ≈ 6 · N_active · " << sci(*tokens) << " tokens; GPU-hours at " << sci(gpu_flops)
              << " FLOP/s per GPU"
              << (gpu_flops == kDefaultGpuFlops ? " (H100 BF16 dense peak at 40% utilisation)" : "") << "\n";
  }
  // Each family's own spelling of the unified keys, where one differs from the unified name.
  TextTable spelling(header);
  for (std::size_t r = 0; r < ps.front().core.size() + ps.front().extended.size(); ++r) {
    auto at = [&](const ArchitectureProfile& p) -> const stages::ArchitectureFact& {
      return r < p.core.size() ? p.core[r] : p.extended[r - p.core.size()];
    };
    std::vector<std::string> row{at(ps.front()).key};
    bool differs = false;
    for (const auto& p : ps) {
      const auto& f = at(p);
      row.push_back(f.spelled.empty() ? "-" : f.spelled);
      differs = differs || (!f.spelled.empty() && f.spelled != f.key);
    }
    if (differs) spelling.add(row);
  }
  std::cout << "\n" << (md ? "**spelled in each config as**\n\n" : "spelled in each config as:\n");
  spelling.print(std::cout, style);
  if (ps.size() > 1) {
    std::cout << "\n"
              << (md ? "**core keys per pair** (METHODS §8 rubric; never lineage evidence)\n\n"
                     : "core keys per pair (METHODS §8 rubric; never lineage evidence):\n");
    for (std::size_t i = 0; i < ps.size(); ++i) {
      for (std::size_t j = i + 1; j < ps.size(); ++j) {
        const auto m = stages::compare_core(ps[i], ps[j]);
        const auto g = stages::compare_geometry(ps[i], ps[j]);
        std::cout << (md ? "- " : "  ") << header[i + 1] << "–" << header[j + 1] << ": " << m.reading << "; "
                  << g.matches << "/" << g.comparable << " of all comparable keys equal\n";
      }
    }
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    std::vector<std::string> lines;
    for (const auto& tw : ps[i].towers) {
      lines.push_back("tower " + tw.config_key + ": model_type " + (tw.model_type.empty() ? "-" : tw.model_type) +
                      (tw.family.empty() ? "" : ", family " + tw.family) +
                      (tw.params ? ", " + billions(tw.params) : std::string()) +
                      (tw.foreign ? "  [probably reused]" : ""));
    }
    for (const auto& b : ps[i].breadcrumbs) lines.push_back("breadcrumb: " + b);
    for (const auto& n : ps[i].notes) lines.push_back("note: " + n);
    if (lines.empty()) continue;
    std::cout << "\n"
              << (md ? "**" : "") << header[i + 1] << (md ? "** " : " ") << ps[i].source << "\n"
              << (md ? "\n" : "");
    for (const auto& l : lines) std::cout << (md ? "- " : "  ") << l << "\n";
  }
}

nlohmann::json ranking_json(const std::vector<stages::RankedEntry>& ranked, std::size_t top) {
  auto out = nlohmann::json::array();
  for (std::size_t i = 0; i < ranked.size() && i < top; ++i) {
    const auto& r = ranked[i];
    out.push_back({{"model", r.entry->model},
                   {"tower", r.tower},
                   {"family", r.profile.family},
                   {"file", r.entry->file},
                   {"source", r.entry->source},
                   {"confirmed", r.entry->confirmed},
                   {"matches", r.geometry.matches},
                   {"comparable", r.geometry.comparable},
                   {"score", r.geometry.score()},
                   {"core_matches", r.core.matches},
                   {"matched", r.geometry.matched_keys},
                   {"differing", r.geometry.differing_keys}});
  }
  return out;
}

void print_ranking(const std::vector<stages::RankedEntry>& ranked, std::size_t top, TableStyle style) {
  TextTable t({"rank", "model", "equal keys", "core", "differing keys", "confirmed"});
  for (std::size_t i = 0; i < ranked.size() && i < top; ++i) {
    const auto& r = ranked[i];
    std::string diff;
    for (const auto& k : r.geometry.differing_keys) diff += (diff.empty() ? "" : ", ") + k;
    t.add({std::to_string(i + 1), r.entry->model + (r.tower.empty() ? "" : " " + r.tower),
           std::to_string(r.geometry.matches) + "/" + std::to_string(r.geometry.comparable),
           std::to_string(r.core.matches) + "/5", diff.empty() ? "(none)" : diff,
           r.entry->confirmed ? "yes" : "partly"});
  }
  t.print(std::cout, style);
}

std::string tower_heading(const ArchitectureProfile& t) {
  return "tower " + t.config_key + " (model_type " + (t.model_type.empty() ? "-" : t.model_type) + "): " + t.reading;
}

}  // namespace

int arch(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "arch",
      "lineage arch A [B ...] [--md | --json] [--tokens N] [--catalog [--top K]]\n\n"
      "Architecture tables from config.json files or model folders (METHODS §8): core and extended keys\n"
      "in one vocabulary, attention type, MoE layout, parameters, towers and lineage breadcrumbs.\n"
      "--catalog ranks the public architectures in catalog/ by how many of A's values they share.\n\noptions",
      "exit codes: 0 ok, 2 usage, 3 missing or malformed config, 4 bad family or catalogue file\n");
  command_line.options()("md", "Markdown tables")("json", "machine-readable output")(
      "tokens", po::value<double>(), "training tokens, for the compute estimate 6 · N_active · tokens")(
      "gpu-flops", po::value<double>()->default_value(kDefaultGpuFlops, "3.96e14"),
      "sustained FLOP/s per GPU for GPU-hours (default: H100 BF16 dense peak at 40%)")(
      "catalog", "rank the catalogue of public architectures against A")(
      "catalog-dir", po::value<std::string>(), "catalogue folder (default $LINEAGE_CATALOG or the built-in catalog/)")(
      "top", po::value<int>()->default_value(10), "entries shown with --catalog")(
      "exclude", po::value<std::vector<std::string>>()->composing(),
      "leave this catalogue model out of the ranking (the suspect's own entry); repeatable")(
      "families", po::value<std::string>(), "family files folder (default $LINEAGE_FAMILIES or the built-in)")(
      "out", po::value<std::string>(), "record A against each other model in this result store (created if missing)");
  command_line.hidden()("inputs", po::value<std::vector<std::string>>());
  const auto parsed = command_line.parse(args, {{"inputs", -1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  const auto inputs = vm.count("inputs") ? vm["inputs"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const bool catalog = vm.count("catalog") > 0;
  if (inputs.empty() || (catalog && inputs.size() != 1)) {
    throw UsageError(catalog ? "arch --catalog: give exactly one suspect config"
                             : "arch: give one or more config.json files or model folders");
  }
  std::optional<double> tokens;
  if (vm.count("tokens")) tokens = vm["tokens"].as<double>();
  const double gpu_flops = vm["gpu-flops"].as<double>();
  if ((tokens && !(*tokens > 0)) || !(gpu_flops > 0))
    throw UsageError("arch: --tokens and --gpu-flops must be positive");
  const auto registry = io::load_family_registry(vm.count("families") ? fs::path(vm["families"].as<std::string>())
                                                                      : default_families_dir());
  std::vector<ArchitectureProfile> profiles;
  profiles.reserve(inputs.size());
  for (const auto& in : inputs) profiles.push_back(profile_input(in, registry));
  if (vm.count("out")) {
    if (catalog || profiles.size() < 2)
      throw UsageError("arch --out: give A and the models to compare it with (not --catalog)");
    for (std::size_t i = 1; i < profiles.size(); ++i) {
      const auto m = stages::compare_core(profiles.front(), profiles[i]);
      const auto g = stages::compare_geometry(profiles.front(), profiles[i]);
      // Equal architecture is weak evidence at most: it selects strategies, it proves nothing (METHODS §8).
      record_evidence(vm["out"].as<std::string>(), {"architecture",
                                                    profiles.front().source + " vs " + profiles[i].source,
                                                    m.matches == 5 ? "weak" : "neutral",
                                                    m.reading + "; " + std::to_string(g.matches) + "/" +
                                                        std::to_string(g.comparable) + " keys equal",
                                                    {{"a", profile_json(profiles.front())},
                                                     {"b", profile_json(profiles[i])},
                                                     {"core_matches", m.matches},
                                                     {"matches", g.matches},
                                                     {"comparable", g.comparable},
                                                     {"differing", g.differing_keys}}});
    }
  }
  const auto style = vm.count("md") ? TableStyle::markdown : TableStyle::terminal;

  if (catalog) {
    auto entries = io::load_catalog(vm.count("catalog-dir") ? fs::path(vm["catalog-dir"].as<std::string>())
                                                            : default_catalog_dir());
    // The suspect's own entry (a disputed model is in the catalogue too) would rank first against
    // itself; --exclude leaves it out so the ranking names the nearest other architecture.
    if (vm.count("exclude")) io::exclude_models(entries, vm["exclude"].as<std::vector<std::string>>());
    const auto ranked = stages::rank_catalog(profiles.front(), entries, registry);
    // Each tower of a composite model against the catalogue's towers of its kind, on its own.
    const auto config = read_input_config(inputs.front(), *open_input(inputs.front()));
    const auto towers = config ? stages::profile_towers(*config, registry, profiles.front().source)
                               : std::vector<ArchitectureProfile>{};
    const auto top = static_cast<std::size_t>(std::max(1, vm["top"].as<int>()));
    if (vm.count("json")) {
      nlohmann::json j{{"suspect", profile_json(profiles.front())},
                       {"ranking", ranking_json(ranked, top)},
                       {"towers", nlohmann::json::array()}};
      for (const auto& t : towers) {
        auto tj = profile_json(t);
        tj["config_key"] = t.config_key;
        tj["reading"] = t.reading;
        tj["ranking"] = ranking_json(stages::rank_catalog_towers(t, entries, registry), top);
        j["towers"].push_back(tj);
      }
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "suspect: " << profiles.front().source << " ("
              << (profiles.front().family.empty() ? "no family" : profiles.front().family)
              << ")\ncatalogue: " << entries.size() << " public architectures\n";
    for (const auto& n : profiles.front().notes) std::cout << "note: " << n << "\n";
    std::cout << "\n";
    print_ranking(ranked, top, style);
    for (const auto& t : towers) {
      std::cout << "\n" << tower_heading(t) << ":\n";
      const auto tr = stages::rank_catalog_towers(t, entries, registry);
      if (tr.empty()) {
        std::cout << "  no catalogue tower of this kind has comparable keys\n";
        continue;
      }
      print_ranking(tr, top, style);
    }
    std::cout << "\nequal geometry means a shared design (or a copied config), never lineage on its own: compare the "
                 "weights with the top entries.\n";
    return 0;
  }

  if (vm.count("json")) {
    nlohmann::json j{{"models", nlohmann::json::array()}, {"pairs", nlohmann::json::array()}};
    for (const auto& p : profiles) {
      auto pj = profile_json(p);
      if (tokens && p.active_params) {
        const auto c = stages::estimate_training_compute(*p.active_params, *tokens, gpu_flops);
        pj["compute"] = {{"tokens", c.tokens},
                         {"flops", c.flops},
                         {"flops_per_gpu_second", c.flops_per_gpu_second},
                         {"gpu_hours", c.gpu_hours}};
      }
      j["models"].push_back(pj);
    }
    for (std::size_t a = 0; a < profiles.size(); ++a) {
      for (std::size_t b = a + 1; b < profiles.size(); ++b) {
        const auto m = stages::compare_core(profiles[a], profiles[b]);
        const auto g = stages::compare_geometry(profiles[a], profiles[b]);
        j["pairs"].push_back({{"a", a},
                              {"b", b},
                              {"core_matches", m.matches},
                              {"reading", m.reading},
                              {"matches", g.matches},
                              {"comparable", g.comparable},
                              {"differing", g.differing_keys}});
      }
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  print_profiles(profiles, style, tokens, gpu_flops);
  return 0;
}

}  // namespace lineage::pipeline::commands
