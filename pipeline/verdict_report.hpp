#pragma once
/// @file verdict_report.hpp
/// Verdicts from a result store: builds the rubric's evidence from the stored statistics (one
/// verdict per suspect-vs-model pair), renders them as JSON and as an aligned table.

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "io/store/result_store.hpp"

namespace lineage::pipeline {

/// {"pairs": [{"suspect", "other", "other_label", "overall", "kind", "reason", "components": [...]}]}
[[nodiscard]] nlohmann::json verdicts_from_store(const io::StoreContents& store);

/// The verdicts as JSON text (verdicts_from_store(store).dump(), the same bytes) and as the
/// printed table (print_verdict_table), without the whole document in memory at once: a deep MoE
/// pair's neuron matchings (tens of thousands of MLPs, most of the document) are written one MLP
/// at a time. Its JSON object is about eight times its text.
struct VerdictText {
  io::SpilledText json;
  std::string table;
};
[[nodiscard]] VerdictText verdict_text(const io::StoreContents& store);

/// Per-role summaries for each suspect-vs-model pair: for every (component, role, projection,
/// kind) group of same-key units, per-layer curves of Pearson, raw cosine and relative L2 (by
/// layer, averaged over experts), their mean, SD, min and max, and the group's cross-layer null.
[[nodiscard]] nlohmann::json summaries_from_store(const io::StoreContents& store);
void print_verdict_table(const nlohmann::json& verdicts, std::ostream& out);

}  // namespace lineage::pipeline
