#pragma once
/// @file report_forensics.hpp
/// The report's forensics sections of one pair (`lineage report`): expert matching from the
/// experts' sketches, neuron matching, byte-identical tensors, the outlier-coordinate
/// fingerprint, the shape-free std curves and the embeddings compared through the token map.
/// Each appears only when the pair has that evidence. Everything shown is what the verdict stage
/// computed (the pair's entry of verdicts_from_store, the stored token_mapped units); this file
/// only arranges and draws it.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/report/svg_plot.hpp"
#include "pipeline/report_markup.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::pipeline {

/// An expert-matching matrix of one layer: rows the suspect's experts, columns the other
/// model's, one coloured cell per matched row (its score), grey elsewhere; unmatched rows
/// (-1) stay grey. `m` holds "suspect_to_other" and "score" (null scores are not drawn).
/// The caller sets id, title, data and colour_title.
[[nodiscard]] io::report::HeatmapSpec expert_match_heatmap(const nlohmann::json& m, int other_experts,
                                                           const std::string& other_label);

/// The forensics sections of one pair, in the order of the file comment.
/// @param[in] pair   the pair's entry of verdicts_from_store
/// @param[in] pid    the pair's id in the page ("a-b")
/// @param[in] units  the pair's stored units (the token_mapped ones are read)
void forensics_sections(markup::Document& d, const nlohmann::json& pair, const std::string& pid,
                        const stages::EvidenceList& units, int other_experts);

}  // namespace lineage::pipeline
