#pragma once
/// @file report_document.hpp
/// The report of a result store (`lineage report`): one self-contained XHTML page with inline
/// SVG plots, the same content as Markdown for a terminal or a git forge (its figures as SVG
/// files beside it). Everything shown comes from the store through the verdict
/// (verdicts_from_store) and the stages' evidence (stages/verdict/store_evidence,
/// layer_profile); this file only arranges and formats it.

#include <string>
#include <utility>
#include <vector>

#include "io/store/result_store.hpp"

namespace lineage::pipeline {

struct ReportFiles {
  std::string html;                                          ///< index.html
  std::string markdown;                                      ///< report.md; its images are figures/<name>
  std::vector<std::pair<std::string, std::string>> figures;  ///< file name -> SVG
};

/// Pair sections (heatmaps, expert matrices) drawn in full; further pairs get their verdict row
/// and curves only, so a merged store of many models stays a page, not megabytes.
inline constexpr std::size_t kMaxPairSections = 12;

/// @param[in] store       a complete store (the caller checks status)
/// @param[in] store_name  how the header names the store (its path as given)
/// @param[in] date        the report's date (UTC, ISO 8601), a parameter so output is reproducible
[[nodiscard]] ReportFiles build_report(const io::StoreContents& store, const std::string& store_name,
                                       const std::string& date);

}  // namespace lineage::pipeline
