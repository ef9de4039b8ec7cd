#pragma once
/// @file layer_alignment_report.hpp
/// `verdict --json` `layer_alignment`: per role family, the raw and centred alignment of the
/// two models' layers and which cells of the layer x layer matrix the store had; for the matrix
/// roles also `sketches`: the full matrices from the pass's sketches (across the pair, raw and
/// centred, and within each model), with their alignments and values.

#include <nlohmann/json.hpp>
#include <vector>

#include "stages/align/layer_alignment.hpp"

namespace lineage {

[[nodiscard]] nlohmann::json layer_alignment_json(const std::vector<stages::FamilyLayerAlignment>& families);

}  // namespace lineage
