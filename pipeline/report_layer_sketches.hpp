#pragma once
/// @file report_layer_sketches.hpp
/// The report's layer x layer matrices of the matrix roles from the pass's sketches (`lineage
/// report`, in the pair's layer x layer place): per family, across the pair with its layer map,
/// and within each model, with a table of the alignments. Drawn from the pair's
/// `layer_alignment[].sketches` entries of verdict --json; shown only when the pair has them.

#include <nlohmann/json.hpp>
#include <string>

#include "pipeline/report_markup.hpp"

namespace lineage::pipeline {

void layer_sketch_section(markup::Document& d, const nlohmann::json& pair, const std::string& pid);

}  // namespace lineage::pipeline
