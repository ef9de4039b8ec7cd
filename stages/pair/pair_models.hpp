#pragma once
/// @file pair_models.hpp
/// The pair stage: comparison units from the inventories of the suspect (model 0) and the other
/// models (a parent, controls). Pure and deterministic: the same inventories give the same units
/// in the same order, so unit ids are stable across runs and rank counts.

#include <functional>
#include <vector>

#include "core/unmatched_tensor.hpp"
#include "stages/inventory/inventory.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

struct PairOptions {
  /// Baselines (METHODS §4.1): cross-model (suspect layer i x other layer j != i) and
  /// within-model (each model's layer i x its layer j != i). Vector roles (norms, biases): every
  /// layer pair; matrix roles: one shifted pairing (i, i+1) per layer.
  bool baselines = true;
  /// Keep the decoded values of routers, and of norm vectors up to this many elements, where the
  /// same key (or a common sub-matrix) is compared; baselines read tensors up to this size whole.
  std::uint64_t keep_values_max = 1u << 16;
  /// Planning only (lineage plan): index-only inventories, whose tensors have shapes but no byte
  /// offsets, are paired for their sizes. Units built this way cannot be executed.
  bool sizes_only = false;
  /// Per-expert sketches for the expert matching (stages/execute/expert_sketch.hpp), with
  /// expert_sketch units for experts one model lacks. Off only to measure their cost.
  bool expert_sketches = true;
  /// Per-layer sketches of the attention, router, shared-expert and dense-MLP matrices for the
  /// layer x layer sketch matrices (stages/execute/expert_sketch.hpp layer_sketched), with
  /// layer_sketch units for layers one model lacks. Off only to measure their cost.
  bool layer_sketches = true;
};

struct PairResult {
  /// Every rank holds them from the plan to the scan (320 bytes a unit, 75 MB on a 233k-unit
  /// pair): spilled where the run sets a folder (io/spilled_vector.hpp).
  UnitList units;
  /// Tensors present in one model only: the suspect's that another model lacks, and the other
  /// models' that the suspect lacks.
  std::vector<UnmatchedTensor> unmatched;
  /// Keys whose shapes differ and that were compared on their common sub-matrix.
  std::vector<std::string> submatrix_keys;
  /// What the run could not compare and why (e.g. embeddings through the token map without a
  /// tokenizer.json); printed by compare.
  std::vector<std::string> notes;
};

/// @param[in] models  inventories built with shard headers (index-only inventories have no
///                    byte offsets and are rejected); models[0] is the suspect
[[nodiscard]] PairResult pair_models(const std::vector<const Inventory*>& models, const PairOptions& options);

/// The element views of every comparable tensor of an inventory, by key (per-expert views of
/// stacked tensors replace the stacked tensor; quantisation companions are left out).
/// @param[in] keep  when given, only the views whose key it accepts (the token tables need two of
///                  100k; filtering first spares building and sorting the rest)
[[nodiscard]] std::vector<std::pair<TensorKey, ElementView>> element_views(
    const Inventory& inv, int model, bool sizes_only = false, const std::function<bool(const TensorKey&)>& keep = {});

}  // namespace lineage::stages
