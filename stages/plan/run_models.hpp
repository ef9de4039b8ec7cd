#pragma once
/// @file run_models.hpp
/// The models of a run (suspect, parents, controls) read into inventories, shared by compare,
/// plan and the pre-flight check so that all three see the same unit list.

#include <memory>
#include <string>
#include <vector>

#include "core/family_registry.hpp"
#include "core/run_config.hpp"
#include "io/checkpoint_index.hpp"
#include "io/model_source.hpp"
#include "stages/inventory/inventory.hpp"
#include "stages/pair/block_scale_companions.hpp"

namespace lineage::stages {

struct RunModel {
  std::string label;  ///< suspect, parent (parent1, ...), control1, ...
  std::string dir;
  stages::Inventory inventory;
  std::vector<std::string> shard_files;
  bool index_only = false;   ///< shapes from config.json + index (shards not downloaded)
  bool config_only = false;  ///< no index either: names and shapes from config.json through the family
  /// The inventory's block-scaled weights (METHODS §0), found once by load_run_models (not when
  /// planning: nothing is read) for the readers of their factors (the pass, the tensor scan, byte
  /// identity); shared by copies. A change to the inventory needs a new list (positions in it).
  std::shared_ptr<const BlockScaleCompanions> block_scales = nullptr;
};

/// m.block_scales; throws InternalError when `m` was not read by load_run_models for a compare (a
/// model built by hand would otherwise have its block-scaled weights silently read as their codes).
[[nodiscard]] const BlockScaleCompanions& block_scale_companions(const RunModel& m);

/// (label, folder) of every model of the run, suspect first.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> run_model_list(const RunConfig& cfg);

/// Reads every model from its safetensors headers. With `allow_index_only`, a folder whose
/// index names shard files that are not there is read from config.json and the index instead
/// (for planning before a download); a shard that exists but is malformed is still an error.
/// A remote model (http(s)://, hf://) is read from its headers by range requests when
/// `allow_index_only` (planning); otherwise (compare, pre-flight) it is refused, and so is a local
/// folder that is not completely downloaded (`*.part` files, missing or short shards).
/// A folder with config.json and neither an index nor model.safetensors (a case folder holding a
/// config only) is then read from config.json alone: the family's expected tensors for that config,
/// an estimate that is exactly as good as the family and the config values. When no family file
/// names the model's tensors, the generic estimate (stages::estimate_generic_inventory): sizes from
/// the config, names not the model's, Inventory::estimated set and the notes saying so.
[[nodiscard]] std::vector<RunModel> load_run_models(const RunConfig& cfg, const FamilyRegistry& registry,
                                                    bool allow_index_only = false,
                                                    const io::RemoteOptions& remote = {});

/// True when the folder has an index naming at least one shard file that does not exist.
/// Throws InputError for an index that cannot be read.
[[nodiscard]] bool shards_missing(const std::string& dir);
/// The same for the folder's index already read.
[[nodiscard]] bool shards_missing(const std::string& dir, const io::CheckpointIndex& index);

}  // namespace lineage::stages
