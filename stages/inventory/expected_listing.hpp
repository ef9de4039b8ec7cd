#pragma once
/// @file expected_listing.hpp
/// The listing a checkpoint of this family and config would have: the family's required tensors
/// (names only, no shapes or offsets), plus the quantisation companions its quantization_config
/// implies (families/_quantization.yaml: block-FP8 `weight_scale_inv`, LLM.int8 `SCB` +
/// `weight_format`) next to every linear projection the quantiser converts. build_inventory then gives shapes, dtypes
/// and bytes, as it does for an index whose shards are absent. Used to count parameters (arch) and to plan a folder
/// that holds config.json alone (plan).

#include <nlohmann/json.hpp>
#include <vector>

#include "core/family_spec.hpp"
#include "core/tensor_listing.hpp"
#include "stages/inventory/expected_tensor.hpp"

namespace lineage::stages {

/// @param[in] expected  the family's expansion for `config` (expand_bound_family / expand_family)
/// @param[in] quantisation  the registry's quantisation reading (FamilyRegistry::quantisation())
/// @param[in] config    the config.json the expansion was made for (read for quantization_config)
/// @return a listing with index_only set; optional tensors are left out
[[nodiscard]] TensorListing expected_listing(const std::vector<ExpectedTensor>& expected,
                                             const QuantisationReading& quantisation, const nlohmann::json& config);

/// Whether a weight-only quantiser converts `t`: a 2-D `.weight` matrix of one of the converted
/// roles (families/_quantization.yaml `converted_roles`).
[[nodiscard]] bool converted_by_quantiser(const QuantisationReading& quantisation, const ExpectedTensor& t);

/// True when `config` has a quantization_config whose companions expected_listing adds (the
/// bytes then assume every linear projection except the listed modules is converted).
[[nodiscard]] bool has_quantisation_companions(const QuantisationReading& quantisation, const nlohmann::json& config);

}  // namespace lineage::stages
