#pragma once
/// @file verdict.hpp
/// The verdict rubric of METHODS §10 as a pure function: per-unit statistics of one pair
/// (suspect vs one other model) in, per-component verdicts with effect sizes and p-values out.
///
/// Evidence rules, in brief (docs/methods.md has the full text and the reason for each number):
/// - Each same-key unit carries permutation tests (stages/null/hidden_null.hpp) of its
///   hidden-matched correlation h and, for matrices, of its basis correlation g (unchanged by
///   permuted neurons, experts or heads). Where cross-layer baselines of the same role exist (at least
///   3), their h values form a second null; the unit is judged against the more conservative of
///   the two (the larger mean and the larger spread). The analytic 1/sqrt(n) is never a null.
/// - A component is derived when it is both significant and large: its Holm-adjusted p-value is
///   below 1e-6 and its significant tests have a median effect >= 0.1 at >= 10 null SDs.
/// - A component is independent only with power: no evidence (its Holm p, times the number of
///   tested components of the pair, >= 1e-3) and a derivation with effect 0.1 in every unit
///   would have been called derived. Otherwise inconclusive.
/// - Overall: every informative component derived or identical -> derived; some derived and
///   some independent -> partial_reuse (naming them); no component with evidence (every Holm
///   p times the number of tested components >= 1e-3) and the attention stack (the backbone every decoder has)
///   independent with power -> independent; otherwise inconclusive, with the reason.
/// - Non-finite values are evidence: a pair is never identical when one side has NaN/Inf the
///   other lacks, and a component with fewer than min_finite_share finite values is inconclusive.
/// - Controls: with control models in the run, the parent must stand out from every control
///   (calibrate_with_controls).

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/tensor_key.hpp"
#include "io/spilled_vector.hpp"
#include "stages/align/layer_alignment.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

/// The statistics of one finished cross-model unit that the rubric reads.
struct UnitEvidence {
  UnitKind kind = UnitKind::same_key;
  TensorKey key;               ///< key of side A (the suspect)
  int other_layer = -1;        ///< the other model's layer (differs from key.layer for baselines)
  std::uint64_t elements = 0;  ///< element pairs where both sides are finite (the statistics' n)
  // Non-finite values (NaN, +-Inf): element pairs with either side non-finite, per side, and
  // where the sides disagree about them (one finite, or different non-finite values).
  std::uint64_t nonfinite = 0;
  std::uint64_t nonfinite_a = 0;
  std::uint64_t nonfinite_b = 0;
  std::uint64_t nonfinite_mismatch = 0;
  double cosine = 0;      ///< raw cosine (reported, never decisive for norms)
  double pearson = 0;     ///< element-wise centred cosine over the whole unit; NaN when undefined
  double rel_l2 = 0;      ///< ||a-b|| / ||a||
  double frac_equal = 0;  ///< fraction of elements with equal decoded values
  bool bytes_equal = false;
  // The permutation null (NaN / 0 when the unit's role has no exchangeable axis).
  double hidden_corr = 0;  ///< h: mean correlation of hidden-matched units (Spearman for vectors)
  double null_mean = 0;
  double null_sd = 0;
  double null_p = 1;
  int null_perms = 0;
  // The basis test (matrices): g and its null.
  double basis_corr = 0;
  double basis_null_mean = 0;
  double basis_null_sd = 0;
  double basis_null_p = 1;
  int basis_perms = 0;
  // token_mapped units (stages/verdict/token_mapped_verdict.hpp): the token map and the
  // rotation test of the mapped rows.
  double mapped_same_id = 1;  ///< share of the mapped tokens with the same id in both tokenizers
  std::uint64_t mapped_tokens = 0;
  double rotation_cosine = 0;  ///< held-out per-token cosine after the Procrustes fit (NaN: not fitted)
  double rotation_null_mean = 0;
  double rotation_null_sd = 0;
  double rotation_null_p = 1;
  int rotation_perms = 0;
  // Small same-key units: the shape and h under the joint test's shared relabellings
  // (stages/null/hidden_null.hpp HiddenNull::joint); empty for other units. A view, not a copy:
  // of the store's row (evidence_by_pair), valid while the store lives and no row is put into its
  // joint_null (one buffer for every unit's row). A deep MoE has tens of thousands of such units.
  std::uint64_t rows = 0, cols = 0;
  std::span<const float> joint_null;
  [[nodiscard]] bool has_null() const noexcept;
  [[nodiscard]] bool has_basis_null() const noexcept;
};

/// A pair's evidence, one entry a unit: spilled as the store's columns are (io/spilled_vector.hpp),
/// since a deep MoE pair's is tens of megabytes (about 300 bytes a unit) while its verdict is made.
using EvidenceList = io::SpilledVector<UnitEvidence>;

enum class VerdictClass : std::uint8_t { identical, derived, partial_reuse, independent, inconclusive };
[[nodiscard]] const char* to_string(VerdictClass v) noexcept;

/// The thresholds of the rubric (docs/methods.md gives the reason for each).
struct VerdictRules {
  double derived_p = 1e-6;           ///< component p-value (Holm) for "derived" (METHODS §10.2)
  double null_p = 1e-3;              ///< component p-value (Holm) above which it is "at null level"
  double min_effect = 0.1;           ///< weakest h that counts as derived, and that power must reach
  double min_effect_sds = 10.0;      ///< effect in null SDs (METHODS §10.2)
  double control_margin_sds = 10.0;  ///< parent over best control, in null SDs
  /// Same-index relative L2 change below which a derivation is a fine-tune (SFT/RL/DPO move the
  /// weights by a few percent to ~15% of their norm), above which continued pre-training.
  double finetune_rel_l2 = 0.2;
  /// Share of a component's values that must be finite on each side for it to be judged: below
  /// it, the statistics rest on what is left and the component is inconclusive.
  double min_finite_share = 0.99;
};

/// Non-finite values among the compared elements of a component or a whole pair.
struct NonFiniteCounts {
  std::uint64_t elements = 0;  ///< compared element pairs, finite or not
  std::uint64_t suspect = 0;   ///< non-finite on the suspect's side
  std::uint64_t other = 0;     ///< non-finite on the other model's side
  std::uint64_t mismatch = 0;  ///< pairs where the two sides disagree about them
  /// The smaller of the two sides' finite shares (1 without elements).
  [[nodiscard]] double finite_share() const noexcept;
  void add(const NonFiniteCounts& o) noexcept;
};

struct ComponentVerdict {
  std::string component;  ///< "attention", "norms", "routers", "routed_experts", ...
  VerdictClass verdict = VerdictClass::inconclusive;
  std::string kind;  ///< for derived: finetune / continued_pretrain / ...
  std::string reason;
  std::size_t same_key_units = 0;
  std::size_t baseline_units = 0;
  std::size_t tested_units = 0;       ///< units with a permutation null
  std::size_t tests = 0;              ///< permutation tests (h and g of units, joint tests) over those units
  std::size_t joint_tests = 0;        ///< of them, joint tests of a family's small units (docs/methods.md)
  std::size_t significant_units = 0;  ///< units with a test at Holm-adjusted p <= derived_p
  double median_pearson = 0;          ///< element-wise, over the same-key units
  double median_hidden_corr = 0;      ///< h over the tested units
  double median_basis_corr = 0;       ///< g over the tested units (NaN without matrices)
  double effect = 0;                  ///< median statistic of the significant tests (of all when none)
  double null_mean = 0;               ///< median over tested units of the null they were judged by
  double null_sd = 0;
  double z = 0;                 ///< effect in null SDs: median (h - null mean) / null SD
  double p_value = 1;           ///< Holm-adjusted minimum p over the tested units
  double p_fisher = 1;          ///< Fisher-combined p (informative; units are not independent)
  double frac_beyond_null = 0;  ///< fraction of tested units significant
  double median_rel_l2 = 0;
  double matched_rel_l2 = 0;  ///< median relative L2 of the units whose h is significant and >= min_effect
  double median_frac_equal = 0;
  double frac_bytes_equal = 0;
  bool cross_layer_null = false;           ///< some unit was judged by its cross-layer baselines
  bool hidden_significant = false;         ///< some h test significant with h >= min_effect (same-index evidence)
  bool basis_significant = false;          ///< some g test significant (hidden-basis evidence)
  std::size_t cross_role_units = 0;        ///< experts tested against the other's dense MLP
  std::size_t cross_role_significant = 0;  ///< of them, with a significant test
  bool powered = false;                    ///< a derived effect of min_effect would have been seen
  bool informative = false;                ///< decided something (identity, derived or powered null)
  NonFiniteCounts nonfinite;
  bool too_few_finite = false;  ///< inconclusive because finite_share < rules.min_finite_share
};

/// The shape of the two models as their keys show it (layers and routed experts per layer).
struct PairLayout {
  int suspect_layers = 0;
  int other_layers = 0;
  int suspect_experts = 0;
  int other_experts = 0;
};

/// One kind of a derivation with the evidence for it (METHODS §10.1).
struct DerivationKind {
  std::string
      kind;  ///< finetune, continued_pretrain, permuted, upcycled, expert_pruned, depth_upscaled, vocab_extended
  std::string evidence;  ///< the numbers behind it
  double p_value = 1;    ///< of the tests it rests on (0 for identity, 1 when it rests on shapes alone)
};

struct PairVerdict {
  VerdictClass overall = VerdictClass::inconclusive;
  std::string kind;  ///< the kinds joined by " + " (a chain of derivations)
  std::vector<DerivationKind> kinds;
  /// For depth changes: the other model's layer each suspect layer matches best (by norm
  /// vectors), -1 where nothing stands out; empty when not computed.
  std::vector<int> layer_map;
  std::vector<double> layer_map_margin;
  /// Layer-shuffle test of the map's order: the number of consecutive suspect layers whose
  /// matches step forward by one (layer_map_steps) against the same count after relabelling the
  /// other model's layers at random (1000 times); p = (1 + as many or more) / 1001. Repeats do
  /// not count (a shuffle keeps them), so this is the evidence that the order was kept.
  int layer_map_steps = 0;
  double layer_map_p = 1;
  /// Per role family, the layer x layer alignment of the two models (raw and centred), with
  /// the monotone layer map; the depth kinds rest on the norms' (stages/align/layer_alignment.hpp).
  std::vector<FamilyLayerAlignment> layer_alignment;
  std::string reason;
  double p_value = 1;  ///< Holm over the informative components' p-values
  std::vector<ComponentVerdict> components;
  std::vector<std::string> reused_components;  ///< derived or identical components
  NonFiniteCounts nonfinite;                   ///< over every compared unit of the pair
  /// A screening run's (compare --screen): its units have no null, so only equal values decide.
  bool screen = false;
};

/// Which verdict component a key belongs to.
[[nodiscard]] std::string verdict_component(const TensorKey& key);

/// @param[in] unmatched_tensors  tensors of either model with no counterpart in the other (they
///   rule out "identical": identity needs every tensor compared)
[[nodiscard]] PairVerdict decide_verdict(EvidenceList units, std::size_t unmatched_tensors = 0,
                                         const VerdictRules& rules = {}, const PairLayout& layout = {});

/// How the parent's verdict compares with the suspect's verdicts against control models.
struct ControlCalibration {
  std::string backbone;      ///< the component compared ("attention", or the best informative one)
  double parent_effect = 0;  ///< the parent's effect on it
  double best_control_effect = 0;
  std::string best_control;
  double margin = 0;      ///< parent - best control
  double margin_sds = 0;  ///< margin in the parent's null SDs
  bool stands_out = true;
  std::string note;
};

/// The parent must stand out from every control. A derived (or partial_reuse) parent verdict
/// that does not, by at least rules.control_margin_sds null SDs on its backbone, becomes
/// inconclusive with the reason; the calibration is returned for the report either way.
/// @param[in,out] parent    the suspect-vs-parent verdict
/// @param[in]     controls  label -> suspect-vs-control verdict
ControlCalibration calibrate_with_controls(PairVerdict& parent, const std::map<std::string, PairVerdict>& controls,
                                           const VerdictRules& rules = {});

}  // namespace lineage::stages
