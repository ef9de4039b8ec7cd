#pragma once
/// @file evidence_record.hpp
/// Evidence beside the weights (tokenizer, architecture, behaviour) recorded in a result store
/// with `--out run.h5`, and how the verdict weighs it: as one component, never the only one.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace lineage::pipeline {

/// One item: what was compared, what it reads as, and the full result for the record.
struct EvidenceItem {
  std::string kind;     ///< tokenizer | architecture | behaviour
  std::string subject;  ///< e.g. "suspect.jsonl vs parent.jsonl"
  std::string support;  ///< derived | against | weak | neutral
  std::string reading;
  nlohmann::json result;
};

/// Adds `item` to the store at `path`, replacing an earlier item of the same kind and subject.
/// A missing store is created holding only evidence. The write is atomic (the store is
/// rewritten to a temporary file and renamed).
void record_evidence(const std::filesystem::path& path, const EvidenceItem& item);

}  // namespace lineage::pipeline
