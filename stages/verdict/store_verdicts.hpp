#pragma once
/// @file store_verdicts.hpp
/// The verdicts of every model pair of a result store, with the controls' calibration, the
/// per-layer summaries per role, and how the evidence beside the weights bears on a verdict: the
/// analysis behind `lineage verdict`, `lineage report` and the store's /verdict. The CLI only
/// formats these (pipeline/verdict_report.cpp).

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/verdict/byte_identity_evidence.hpp"
#include "stages/verdict/matched_expert_verdict.hpp"
#include "stages/verdict/outlier_fingerprint.hpp"
#include "stages/verdict/std_curves.hpp"
#include "stages/verdict/store_evidence.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

struct PairOutcome {
  int suspect = 0;
  int other = 0;
  PairVerdict verdict;
  std::optional<ControlCalibration> controls;  ///< for a parent of a suspect with controls
  // Forensics beside the per-unit rubric (docs/methods.md): byte-identical tensors under any
  // name (they can change the verdict), the outlier-coordinate fingerprint of the norm vectors
  // and the shape-free std curves (reported only).
  ByteIdentityEvidence byte_identity;
  OutlierFingerprint outliers;
  StdCurveComparison std_curves;
};

/// Every pair's verdict; a parent (label "parent...") is calibrated against the same suspect's
/// controls (labels "control...", METHODS §4.1). Ordered by (suspect, other). Each pair's evidence
/// is consumed (a deep MoE pair's is tens of megabytes): a caller that needs it after moves a copy in.
[[nodiscard]] std::vector<PairOutcome> pair_verdicts(const io::StoreContents& store, PairEvidence by_pair);

/// The moved experts the verdict judges at their match, of one pair's `evidence`: those whose
/// matched_expert units confirm the move (confirmed_moves, with the pair's neuron matchings), and
/// those whose same-key units the store records as superseded (judged there when they were
/// superseded, by the same rule).
[[nodiscard]] ExpertSet moves_judged_at_match(const io::StoreContents& store, int suspect, int other,
                                              const EvidenceList& evidence);

/// moves_judged_at_match for every pair of the store (the results it holds so far), keyed by
/// (suspect, other): what compare supersedes the deferred same-key units by.
[[nodiscard]] std::map<std::pair<int, int>, ExpertSet> moves_judged_at_match(const io::StoreContents& store);

/// Mean, SD (n - 1), min and max of the finite values.
struct ValueSummary {
  std::size_t n = 0;
  double mean = 0, sd = 0, min = 0, max = 0;
};
[[nodiscard]] std::optional<ValueSummary> summarise(const std::vector<double>& values);

/// One role (key without layer and expert) of one pair: same-key means per layer, and the
/// cross-layer baselines' Pearson as a null.
struct RoleLayerSummary {
  std::string role;  ///< the key with layer and expert removed, as text
  std::vector<int> layers;
  std::vector<double> pearson, cosine, rel_l2;  ///< means over the layer's units (NaN: undefined)
  std::optional<ValueSummary> pearson_summary;  ///< over every same-key unit
  std::optional<ValueSummary> null_pearson;     ///< over the baselines
};

struct PairLayers {
  int model_a = 0;
  int model_b = 0;
  std::vector<RoleLayerSummary> roles;  ///< by role text
};

/// Per pair of a store with cross-model units, per role; empty for a store without rel_l2.
[[nodiscard]] std::vector<PairLayers> layer_summaries(const io::StoreContents& store);

/// One item of evidence beside the weights (tokenizer, architecture, behaviour).
struct BesideEvidence {
  std::string kind;
  std::string support;  ///< derived, against, weak or neutral
  std::string reading;
};

/// How evidence beside the weights bears on a weight verdict: it can agree, conflict or suggest,
/// but never changes the class (METHODS §10.4).
[[nodiscard]] std::string context_note(const std::vector<BesideEvidence>& evidence, VerdictClass overall);

}  // namespace lineage::stages
