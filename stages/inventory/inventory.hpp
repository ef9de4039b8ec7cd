#pragma once
/// @file inventory.hpp
/// The inventory stage: what every stored tensor is. Pure function of a listing (names, and
/// shapes when headers were read), an optional config and the family registry. Every tensor is
/// accounted for: classified, companion of a classified weight, or unclaimed (never dropped).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/family_registry.hpp"
#include "core/tensor_listing.hpp"
#include "stages/inventory/expected_tensor.hpp"

namespace lineage::stages {

struct ClassifiedTensor {
  std::string name;
  TensorKey key;
  SharedName file;                   ///< the listing's (shared by the tensors of one shard)
  std::optional<Dtype> dtype;        ///< from the header; in index-only mode derived from config
  std::vector<std::uint64_t> shape;  ///< from the header; in index-only mode derived from config
  bool shape_known = true;
  std::uint64_t data_begin = 0;
  std::uint64_t data_end = 0;
  StorageLayout layout;
  bool expected = true;  ///< false: matches a family name but the config does not call for it
  [[nodiscard]] std::uint64_t elements() const noexcept;
};

/// A per-expert (and, for fused gate+up, per-projection) 2-D view into a stacked tensor, in
/// elements: element (r, c) of the HF-oriented [out, in] matrix is at
/// offset + r * row_stride + c * col_stride of the stored tensor. No data are copied.
struct TensorView {
  std::size_t tensor = 0;  ///< index into Inventory::tensors
  TensorKey key;
  std::uint64_t offset = 0;
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  std::uint64_t row_stride = 0;
  std::uint64_t col_stride = 0;
};

struct ShapeMismatch {
  std::string name;
  std::vector<std::uint64_t> expected;
  std::vector<std::uint64_t> actual;
};

struct RoleSummary {
  Component component = Component::text;
  TensorRole role = TensorRole::other;
  std::size_t tensors = 0;
  std::uint64_t params = 0;
  std::uint64_t bytes = 0;
  int layers = 0;             ///< distinct layer indices
  int experts_per_layer = 0;  ///< max distinct experts in one layer (stacked tensors count E)
  std::set<Dtype> dtypes;
};

struct Inventory {
  std::string model_dir;
  std::string family;
  std::string family_reason;  ///< how the family was chosen
  /// Why the config did not decide and what was chosen instead (by tensor names, or the generic
  /// decoder reading), plus generic-reading ambiguities. Empty when the config's family applied.
  std::vector<std::string> notes;
  bool generic = false;              ///< read with families/_generic_decoder.yaml, not a family file
  bool estimated = false;            ///< names and shapes are the generic estimate (not the model's names)
  std::vector<std::string> choices;  ///< variants / naming alternatives found
  bool index_only = false;
  bool has_config = false;
  std::vector<ClassifiedTensor> tensors;  ///< classified (including companions), listing order
  std::vector<TensorView> views;
  std::vector<std::string> unclaimed;
  std::vector<std::string> required_missing;
  std::vector<std::string> optional_missing;
  std::vector<ShapeMismatch> shape_mismatches;
  std::vector<std::string> unindexed;
  std::vector<RoleSummary> roles;
  std::uint64_t total_params = 0;   ///< elements of weights and biases (not quantisation scales)
  std::uint64_t active_params = 0;  ///< routed experts counted at top_k / experts
  std::uint64_t total_bytes = 0;    ///< stored bytes (derived from dtypes in index-only mode)
  std::optional<std::int64_t> experts;
  std::optional<std::int64_t> top_k;
  std::optional<std::uint64_t> index_total_size;
  std::optional<std::uint64_t> index_total_parameters;

  /// No unclaimed names, no required tensor missing, no shape mismatch.
  [[nodiscard]] bool clean() const noexcept {
    return unclaimed.empty() && required_missing.empty() && shape_mismatches.empty();
  }
};

/// Selection (docs/families.md, "Selection and fallback"): `family_override`; else the family the
/// config names, if its expressions apply to the config; else by tensor names; else the generic
/// decoder reading. Only an override can fail for lack of a config key: selection itself never
/// stops the tool, and Inventory::notes says what it chose and why.
/// @param[in] config           config.json (null: none; the family is then chosen by names)
/// @param[in] family_override  use this family instead of detecting one
[[nodiscard]] Inventory build_inventory(const TensorListing& listing, const nlohmann::json* config,
                                        const FamilyRegistry& registry,
                                        const std::optional<std::string>& family_override = std::nullopt);

/// The generic estimate (families/_generic_decoder.yaml, `estimate`): what a folder holding
/// config.json alone is planned from when no family file names the model's tensors. The tensors
/// the config's keys imply (embeddings, attention with MLA ranks when given, dense or routed and
/// shared experts, norms, output head unless tied), with shapes from the config and its dtype;
/// the text decoder of a composite only (its other towers are named in the notes, not sized).
/// Inventory::generic and Inventory::estimated are set and Inventory::notes says plainly that the
/// names are not the model's: the estimate gives bytes and units for a plan, never a comparison.
/// @param[in] model_dir  the folder, for messages and Inventory::model_dir
/// @throws InputError when the family folder has no generic estimate; ConfigError when the
///         config lacks a key the estimate cannot do without (hidden size, layers, heads, vocabulary)
[[nodiscard]] Inventory estimate_generic_inventory(const nlohmann::json& config, const FamilyRegistry& registry,
                                                   const std::string& model_dir);

/// The family a config selects: `architectures` first, `model_type` as tie-breaker.
/// nullopt when nothing matches. Throws ConfigError when two families match equally.
[[nodiscard]] const FamilySpec* select_family_by_config(const FamilyRegistry& registry, const nlohmann::json& config);

}  // namespace lineage::stages
