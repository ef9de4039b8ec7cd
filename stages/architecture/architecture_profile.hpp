#pragma once
/// @file architecture_profile.hpp
/// The architecture facts auditors tabulate by hand, computed from config.json through the
/// family files (which know each family's spelling of "hidden size", "experts", ...): the five
/// core keys, the extended keys, attention type, MoE layout, parameter counts, towers of VLM and
/// omni models, and lineage breadcrumbs. Used to choose comparison strategies and as weak
/// context; never as lineage evidence on its own (METHODS §8, §10.4).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/family_registry.hpp"

namespace lineage::stages {

/// One row of the table: the unified key, the value as text ("-" when the config does not
/// say), and the config key it was read from in the family's own spelling.
struct ArchitectureFact {
  std::string key;
  std::string value = "-";
  std::string spelled = "";  ///< e.g. "n_routed_experts" for "routed experts"; "" when derived
  bool unconfirmed = false;  ///< a catalogue value in doubt: shown, never compared
};

struct TowerProfile {
  std::string config_key;  ///< vision_config, audio_config, ...
  std::string model_type;
  std::string family;        ///< family whose model_types include it ("" if none)
  bool foreign = false;      ///< the tower's family differs from the model's: probably a reused component
  std::uint64_t params = 0;  ///< tensors the family expects under this tower (0: unknown)
};

struct ArchitectureProfile {
  std::string source;
  std::string family;  ///< "" when no family file matches
  std::string model_type;
  std::vector<std::string> architectures;
  std::vector<ArchitectureFact> core;      ///< the five core keys, in METHODS §8 order
  std::vector<ArchitectureFact> extended;  ///< fixed order, identical for every profile
  std::string attention_type = "-";        ///< MHA, GQA, MQA, MLA
  bool moe = false;
  std::optional<std::uint64_t> total_params;   ///< from the family's expected tensors; nullopt: config incomplete
  std::optional<std::uint64_t> active_params;  ///< routed experts counted at top_k / experts
  std::optional<std::uint64_t> total_bytes;    ///< at the config's dtypes (quantised releases included)
  std::vector<TowerProfile> towers;
  std::vector<std::string> breadcrumbs;
  std::vector<std::string> notes;  ///< what was inferred and how; why something could not be computed
  std::map<Component, std::uint64_t> params_by_component;  ///< with a family: expected parameters per component

  // A tower profiled on its own (profile_towers): the sub-config, its kind and how it was read.
  std::string config_key;  ///< e.g. vision_config; "" for a whole model
  Component component = Component::text;
  std::string reading;  ///< "family qwen2_5_vl_vision (...)" or "no family knows model_type X: common key spellings"

  [[nodiscard]] const ArchitectureFact* fact(const std::string& key) const;
};

/// Profiles a config (the whole config.json; composite models included).
[[nodiscard]] ArchitectureProfile profile_architecture(const nlohmann::json& config, const FamilyRegistry& registry,
                                                       const std::string& source);

/// Every tower of a composite config (text_config, vision_config, audio_config, ... : the
/// `*_config` objects with a model_type, and those families/_generic_decoder.yaml lists) profiled
/// on its own sub-config, with its own model_type: by the family whose model_types name it (a
/// tower-only family first), else through the generic reading's common key spellings. Empty for
/// a config without towers.
[[nodiscard]] std::vector<ArchitectureProfile> profile_towers(const nlohmann::json& config,
                                                              const FamilyRegistry& registry,
                                                              const std::string& source);

/// Marks the facts read from these config keys as unconfirmed (catalogue entries).
void mark_unconfirmed(ArchitectureProfile& profile, const std::vector<std::string>& config_keys);

/// Tensor names of features the config does not use (MTP remnants, attention biases the
/// family does not define, ...), from an inventory's unclaimed or optional names.
/// Kinds come from the generic reading's `breadcrumbs` (families/_generic_decoder.yaml).
void add_tensor_breadcrumbs(ArchitectureProfile& profile, const FamilyRegistry& registry,
                            const std::vector<std::string>& unclaimed_names);

/// Core-key matches between two profiles (0..5) and the auditors' rubric reading.
struct CoreMatch {
  int matches = 0;
  int comparable = 0;  ///< keys known on both sides
  std::string reading;
};
[[nodiscard]] CoreMatch compare_core(const ArchitectureProfile& a, const ArchitectureProfile& b);

/// Geometry similarity over the core and extended keys known on both sides (used to rank a
/// catalogue): matches / comparable, ties broken by the number of matches.
struct GeometryMatch {
  int matches = 0;
  int comparable = 0;
  std::vector<std::string> matched_keys;
  std::vector<std::string> differing_keys;
  [[nodiscard]] double score() const { return comparable ? static_cast<double>(matches) / comparable : 0.0; }
};
[[nodiscard]] GeometryMatch compare_geometry(const ArchitectureProfile& a, const ArchitectureProfile& b);

/// Training compute ≈ 6 · N_active · tokens (dense-equivalent rule of thumb for a forward and
/// backward pass) and the GPU-hours it takes at `flops_per_gpu_second` sustained.
struct ComputeEstimate {
  double tokens = 0;
  double flops = 0;
  double flops_per_gpu_second = 0;
  double gpu_hours = 0;
};
[[nodiscard]] ComputeEstimate estimate_training_compute(std::uint64_t active_params, double tokens,
                                                        double flops_per_gpu_second);

}  // namespace lineage::stages
