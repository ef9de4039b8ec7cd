#pragma once
/// @file verdict.hpp
/// The verdict rubric of METHODS §10 as a pure function: per-unit statistics of one pair
/// (suspect vs one other model) in, per-component verdicts with their evidence out.
///
/// Evidence rules, in brief (docs/methods.md has the full text):
/// - Each unit is scored against the null of its own (role, projection, kind) group: the
///   cross-layer baseline units (same role, other layer) when there are at least 3, else the
///   analytic null of a correlation over n elements. A derived claim needs same-key similarity far
///   outside that null. Raw cosine of
///   norm vectors is never used (the LayerNorm trap); Pearson (centred cosine) is.
/// - identical: every non-trivial same-key tensor byte-identical (or value-identical).
/// - derived: median same-key Pearson >= 10 null SDs above the null mean AND most units
///   individually beyond 6 SDs; kind from the size of the change (finetune: small relative L2 or
///   large exact-equality fractions; continued_pretrain: larger change).
/// - independent: same-key similarity inside the null (|z| < 3, almost no unit beyond 6 SDs) AND
///   the test had power (null SD small enough that a derived effect of 0.5 would show at 10 SDs).
/// - Units whose null SD is too large to see a 0.5 effect at 10 SD have no power and are left
///   out; a component with none left is inconclusive and does not decide the overall verdict.
/// - anything else: inconclusive. Overall: identical / derived / partial_reuse (some components
///   derived, others independent) / independent / inconclusive.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor_key.hpp"

namespace lineage::stages {

enum class UnitRole : std::uint8_t { same_key, submatrix, baseline };

/// The statistics of one finished unit that the rubric reads.
struct UnitEvidence {
  UnitRole kind = UnitRole::same_key;
  TensorKey key;  ///< key of side A (the suspect)
  std::uint64_t elements = 0;
  double cosine = 0;       ///< raw cosine (reported, never decisive for norms)
  double pearson = 0;      ///< centred cosine; NaN when undefined
  double rel_l2 = 0;       ///< ||a-b|| / ||a||
  double frac_equal = 0;   ///< fraction of elements with equal decoded values
  bool bytes_equal = false;
};

enum class VerdictClass : std::uint8_t { identical, derived, partial_reuse, independent, inconclusive };
[[nodiscard]] const char* to_string(VerdictClass v) noexcept;

struct ComponentVerdict {
  std::string component;  ///< "attention", "norms", "routers", "routed_experts", ...
  VerdictClass verdict = VerdictClass::inconclusive;
  std::string kind;  ///< for derived: finetune / continued_pretrain / ...
  std::string reason;
  std::size_t same_key_units = 0;
  std::size_t baseline_units = 0;
  double median_pearson = 0;
  double null_mean = 0;
  double null_sd = 0;
  double z = 0;                 ///< (median same-key Pearson - null mean) / null SD
  double frac_beyond_null = 0;  ///< same-key units beyond 6 null SDs
  double median_rel_l2 = 0;
  double median_frac_equal = 0;
  double frac_bytes_equal = 0;
  bool informative = false;  ///< had power (or byte identity) to decide anything
};

struct PairVerdict {
  VerdictClass overall = VerdictClass::inconclusive;
  std::string kind;
  std::string reason;
  std::vector<ComponentVerdict> components;
  std::vector<std::string> reused_components;  ///< for partial_reuse
};

/// Which verdict component a key belongs to.
[[nodiscard]] std::string verdict_component(const TensorKey& key);

/// @param[in] unmatched_tensors  tensors of either model with no counterpart in the other (they
///   rule out "identical": identity needs every tensor compared)
[[nodiscard]] PairVerdict decide_verdict(const std::vector<UnitEvidence>& units, std::size_t unmatched_tensors = 0);

}  // namespace lineage::stages
