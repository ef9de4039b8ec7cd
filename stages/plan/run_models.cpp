#include "stages/plan/run_models.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "core/parallel_for.hpp"
#include "io/checkpoint_index.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/hf_config.hpp"
#include "io/model_folder.hpp"
#include "io/model_source.hpp"
#include "stages/inventory/expand_family.hpp"
#include "stages/inventory/expected_listing.hpp"
#include "stages/inventory/inventory.hpp"

namespace lineage::stages {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::string>> run_model_list(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> list{{"suspect", cfg.suspect}};
  for (std::size_t i = 0; i < cfg.parents.size(); ++i) {
    list.emplace_back(cfg.parents.size() == 1 ? "parent" : "parent" + std::to_string(i + 1), cfg.parents[i]);
  }
  for (std::size_t i = 0; i < cfg.controls.size(); ++i)
    list.emplace_back("control" + std::to_string(i + 1), cfg.controls[i]);
  if (cfg.pair) {
    if (*cfg.pair + 1 >= list.size()) {
      throw UsageError("--pair " + std::to_string(*cfg.pair) + ": the run has " + std::to_string(list.size() - 1) +
                       " pairs (0.." + std::to_string(list.size() - 2) + ")");
    }
    return {list.front(), list[*cfg.pair + 1]};
  }
  return list;
}

bool shards_missing(const std::string& dir, const io::CheckpointIndex& index) {
  // Few distinct shard names among 100k entries: each is looked up on disk once.
  std::set<std::string_view> checked;
  std::error_code ec;
  for (const auto& [name, file] : index.entries) {
    if (!file || !checked.insert(*file).second) continue;  // list_checkpoint reports a non-string
    if (!fs::exists(fs::path(dir) / *file, ec)) return true;
  }
  return false;
}

bool shards_missing(const std::string& dir) {
  const auto source = io::open_model(dir, {});
  const auto index = io::read_checkpoint_index(*source);
  return index && shards_missing(dir, *index);
}

namespace {

/// Throws the "incomplete download" error when incomplete_download finds anything in `dir`.
void check_download_complete(const std::string& dir) {
  if (const auto problems = io::incomplete_download(dir); !problems.empty()) {
    throw InputError(dir, "incomplete download: " + problems.front() +
                              (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : "") +
                              "; finish it with `lineage fetch`");
  }
}

RunModel read_run_model(const RunConfig& cfg, const FamilyRegistry& registry, bool allow_index_only,
                        const io::RemoteOptions& remote, const std::string& label, const std::string& dir) {
  const bool is_remote = io::is_remote_location(dir);
  const auto source = io::open_model(dir, remote);
  // The index is read once: for the missing shards here and for the listing below.
  source->check_folder();
  const auto index = io::read_checkpoint_index(*source);
  RunModel m{label, dir, {}, {}, allow_index_only && !is_remote && index && shards_missing(dir, *index)};
  const auto config = io::read_model_config(*source);
  std::error_code ec;
  m.config_only = allow_index_only && !is_remote && config && !fs::exists(fs::path(dir) / io::kIndexFileName, ec) &&
                  !fs::exists(fs::path(dir) / io::kSingleFileName, ec);
  if (m.config_only) {
    // Names from the family the config selects (or the run's override); shapes follow from them.
    // No family: the generic estimate, which sizes the plan and says that its names are not the model's.
    // The family the architecture profile would name, without the profile: it counts parameters
    // through an inventory of its own (for Kimi-K2, 108 of the 189 MB of heap at the plan's peak,
    // both models loading at once).
    const auto* selected = cfg.family ? nullptr : stages::select_family_by_config(registry, *config);
    const std::string family = cfg.family ? *cfg.family : selected ? selected->id : std::string();
    m.index_only = true;
    if (family.empty()) {
      m.inventory = stages::estimate_generic_inventory(*config, registry, dir);
      return m;
    }
    // Quantised releases (Kimi-K2's block FP8) get their companions and dtypes, as arch counts them.
    auto listing =
        stages::expected_listing(stages::expand_family(registry, family, *config), registry.quantisation(), *config);
    listing.model_dir = dir;
    m.inventory = stages::build_inventory(listing, &*config, registry, family);
    return m;
  }
  const auto listing = io::list_checkpoint(*source, m.index_only, index);
  m.inventory = stages::build_inventory(listing, config ? &*config : nullptr, registry, cfg.family);
  if (m.index_only) {
    // An index gives names only; shapes come from the family. Names no family file knows would be
    // planned at 0 bytes, a plan that looks complete and is not.
    const auto unsized = std::count_if(m.inventory.tensors.begin(), m.inventory.tensors.end(),
                                       [](const stages::ClassifiedTensor& t) { return !t.shape_known; });
    if (unsized > 0) {
      throw InputError(dir, std::to_string(unsized) + " of the index's tensors have no shape (read as " +
                                m.inventory.family +
                                ", whose names do not give them): cannot plan from config.json + index; "
                                "download the shards' headers or add a family file");
    }
  }
  m.shard_files = listing.shard_files;
  return m;
}

RunModel load_run_model(const RunConfig& cfg, const FamilyRegistry& registry, bool allow_index_only,
                        const io::RemoteOptions& remote, const std::string& label, const std::string& dir) {
  if (allow_index_only) return read_run_model(cfg, registry, allow_index_only, remote, label, dir);
  if (io::is_remote_location(dir)) {
    throw InputError(dir,
                     "a remote model is read by its headers only (inventory, arch, plan); download it with "
                     "`lineage fetch URL DIR` to compare its weights");
  }
  // A folder still being downloaded is said to be one (and how to finish it), not reported by
  // whichever of its files failed first. Looking costs a second reading of every header, so it
  // is done where a `.part` file shows an interrupted fetch, or once something failed: a missing
  // or truncated shard always fails the listing.
  if (io::has_partial_download(dir)) check_download_complete(dir);
  try {
    return read_run_model(cfg, registry, allow_index_only, remote, label, dir);
  } catch (const InputError&) {
    check_download_complete(dir);
    throw;
  }
}

}  // namespace

const BlockScaleCompanions& block_scale_companions(const RunModel& m) {
  if (!m.block_scales)
    throw InternalError("model " + m.label + " (" + m.dir + ") has no list of its block-scaled weights");
  return *m.block_scales;
}

std::vector<RunModel> load_run_models(const RunConfig& cfg, const FamilyRegistry& registry, bool allow_index_only,
                                      const io::RemoteOptions& remote) {
  // The models are read independently, on as many threads as this process has cores (one on a
  // rank of `compare` bound to one core): reading two 100k-tensor checkpoints was half of
  // `lineage plan`. The first failure in run order is the one reported, as when read in turn.
  const auto list = run_model_list(cfg);
  std::vector<std::optional<RunModel>> loaded(list.size());
  parallel_for(list.size(), [&](std::size_t i) {
    loaded[i] = load_run_model(cfg, registry, allow_index_only, remote, list[i].first, list[i].second);
    if (!allow_index_only) loaded[i]->block_scales = std::make_shared<const BlockScaleCompanions>(loaded[i]->inventory);
  });
  std::vector<RunModel> out;
  out.reserve(loaded.size());
  for (auto& m : loaded) out.push_back(std::move(*m));
  return out;
}

}  // namespace lineage::stages
