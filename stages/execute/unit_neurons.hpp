#pragma once
/// @file unit_neurons.hpp
/// Neuron matching (stages/align/neuron_matching.hpp) inside the unit pass: which units of an
/// MLP have neurons to match, along which axis, and reading their values from the stored bytes.

#include <cstddef>
#include <optional>
#include <span>

#include "stages/align/neuron_matching.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

/// Where a unit's neurons are: gate/up (and fused gate_up) rows, down columns; nullopt for units
/// that are not the weight of a dense MLP, shared expert or routed expert compared whole with
/// its counterpart (same_key or cross_role).
enum class NeuronAxis : std::uint8_t { rows, cols };
[[nodiscard]] std::optional<NeuronAxis> neuron_axis(const ComparisonUnit& unit) noexcept;

/// Matches side A's (the suspect's) neurons to side B's. Not defined() when the unit has no
/// neuron axis or is too small.
[[nodiscard]] NeuronMatching match_unit_neurons(const ComparisonUnit& unit, std::span<const std::byte> a_tensor,
                                                std::span<const std::byte> b_tensor,
                                                const NeuronMatchOptions& options = {});

}  // namespace lineage::stages
