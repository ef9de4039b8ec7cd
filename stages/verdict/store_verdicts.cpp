#include "stages/verdict/store_verdicts.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "core/tensor_key.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/verdict/layer_alignment_evidence.hpp"
#include "stages/verdict/layer_sketch_evidence.hpp"
#include "stages/verdict/matched_expert_verdict.hpp"
#include "stages/verdict/neuron_evidence.hpp"
#include "stages/verdict/sketch_evidence.hpp"

namespace lineage::stages {
namespace {

std::string label_of(const io::StoreContents& store, int i) {
  return i >= 0 && static_cast<std::size_t>(i) < store.models.size() ? store.models[static_cast<std::size_t>(i)].label
                                                                     : std::string();
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

ExpertSet judged_at_match(const io::StoreContents& store, int suspect, int other, const EvidenceList& evidence,
                          const std::vector<MlpNeuronMatching>& neurons) {
  ExpertSet neuron_matched;
  for (const auto& mlp : neurons) {
    if (mlp.role == "routed_expert" && mlp.matched) neuron_matched.insert({mlp.layer, mlp.expert});
  }
  auto judged = confirmed_moves(evidence, neuron_matched);
  for (const auto id : store.superseded_ids) {
    const auto& u = store.units.at(id);
    if (u.model_a == suspect && u.model_b == other) judged.insert({u.key_a.layer, u.key_a.expert});
  }
  return judged;
}

/// A screening run's verdict (compare --screen): its units have hashes and moments but no
/// permutation null, so the rubric can decide only from equal values (identical, or values
/// reused exactly: RunConfig::screen); where it could not, the reason says why and what would.
void note_screening(PairVerdict& v) {
  v.screen = true;
  // No test ran: no effect, null or p to report (the rubric's defaults would read as h = 0, p = 1).
  constexpr double kUntested = std::numeric_limits<double>::quiet_NaN();
  for (auto& c : v.components) {
    if (c.tests > 0 || c.verdict != VerdictClass::inconclusive) continue;
    c.effect = c.null_mean = c.null_sd = c.z = c.p_value = c.p_fisher = kUntested;
    c.reason = "not tested: a screening run computes no permutation null";
  }
  if (v.overall != VerdictClass::inconclusive) return;
  v.p_value = kUntested;
  v.reason =
      "a screening run (compare --screen) decides only from equal values: its tensors have hashes, "
      "cosines and relative L2 but no permutation null, so a derivation cannot be told from chance here (" +
      v.reason + "); compare without --screen for a verdict";
}

}  // namespace

ExpertSet moves_judged_at_match(const io::StoreContents& store, int suspect, int other, const EvidenceList& evidence) {
  return judged_at_match(store, suspect, other, evidence, neuron_matchings(store, suspect, other));
}

std::map<std::pair<int, int>, ExpertSet> moves_judged_at_match(const io::StoreContents& store) {
  std::map<std::pair<int, int>, ExpertSet> out;
  for (const auto& [pair, evidence] : evidence_by_pair(store)) {
    auto judged = moves_judged_at_match(store, pair.first, pair.second, evidence);
    if (!judged.empty()) out[pair] = std::move(judged);
  }
  return out;
}

std::vector<PairOutcome> pair_verdicts(const io::StoreContents& store, PairEvidence by_pair) {
  std::map<std::pair<int, int>, PairVerdict> verdicts;
  for (auto& entry : by_pair) {
    const auto& pair = entry.first;
    auto& evidence = entry.second;
    const auto [suspect, other] = pair;
    const auto neurons = neuron_matchings(store, suspect, other);
    // Moved experts are judged at their match where their own statistics there confirm the move
    // (stages/verdict/matched_expert_verdict.hpp).
    const auto confirmed = judged_at_match(store, suspect, other, evidence, neurons);
    ExpertSet moved_experts;
    for (const auto& u : evidence) {
      if (u.kind == UnitKind::matched_expert) moved_experts.insert({u.key.layer, u.key.expert});
    }
    const auto layout = layout_of(store, suspect, other);
    // The pair's evidence is done with here: filtered in place, not copied.
    auto& v = verdicts[pair] = decide_verdict(route_matched_experts(std::move(evidence), confirmed),
                                              unmatched_between(store, suspect, other), {}, layout);
    // The matrix roles' full layer x layer matrices from the pass's sketches (evidence only: the
    // depth kinds' p stays the norms' map's; their text adds what the sketches map).
    add_layer_sketch_alignments(v.layer_alignment, store, suspect, other, layout);
    add_norm_within_alignments(v.layer_alignment, store, suspect, other, layout);
    for (auto& k : v.kinds) {
      if (k.kind == "depth_upscaled" || k.kind == "depth_pruned") k.evidence += layer_sketch_summary(v.layer_alignment);
    }
    const auto matchings = router_matchings(store, suspect, other);
    // expert_pruned rests on the expert counts; the routers' expert matching tests it: every
    // layer's kept experts must match the other's by more than chance (the largest p counts).
    for (auto& k : v.kinds) {
      if (k.kind != "expert_pruned") continue;
      if (matchings.empty()) continue;
      double worst = 0;
      for (const auto& m : matchings) worst = std::max(worst, m.matching.p);
      k.p_value = worst;
      k.evidence += "; the routers' expert matching finds the kept experts in " + std::to_string(matchings.size()) +
                    " layers (largest p " + std::to_string(worst) + ")";
    }
    // permuted: the neurons matched per MLP and the experts the routers show reordered.
    add_permutation_evidence(v, neurons, matchings);
    // upcycled: the suspect's experts matched neuron by neuron to the other's dense MLP.
    add_upcycling_evidence(v, neuron_matchings(store, suspect, other, 1e-6, NeuronPairing::expert_to_dense));
    std::optional<std::vector<LayerSketchMatching>> cached;
    if (!confirmed.empty()) {
      cached = sketch_matchings(store, suspect, other);
      std::map<int, double> layer_p;
      for (const auto& l : *cached) layer_p[l.layer] = l.matching.p;
      add_moved_expert_evidence(v, confirmed, moved_experts, layer_p, layout);
    }
    // The experts' own sketches (stages/verdict/sketch_evidence) say which expert is which for
    // permuted and pruned experts; without routers kept whole their p-value is the kind's.
    for (auto& k : v.kinds) {
      if (k.kind != "expert_pruned" && k.kind != "permuted") continue;
      if (!cached) cached = sketch_matchings(store, suspect, other);
      const auto& sketches = *cached;
      if (sketches.empty()) continue;
      double worst = 0;
      int moved = 0, pruned = 0;
      for (const auto& l : sketches) {
        worst = std::max(worst, l.matching.p);
        moved += static_cast<int>(l.matching.match.size()) - l.matching.in_place;
        pruned += static_cast<int>(l.matching.unmatched_other.size());
      }
      if (k.kind == "expert_pruned" && matchings.empty()) k.p_value = worst;
      k.evidence += "; the experts' sketches match them in " + std::to_string(sketches.size()) + " layers (" +
                    std::to_string(moved) + " experts out of place, " + std::to_string(pruned) +
                    " of the other's unmatched; largest p " + std::to_string(worst) + ")";
      if (k.kind == "expert_pruned" && !moved_experts.empty()) {
        k.evidence += "; " + std::to_string(confirmed.size()) + " of " + std::to_string(moved_experts.size()) +
                      " moved experts confirmed at their match (identical bytes, h or neurons) and judged there";
      }
    }
  }
  const auto scan = store.tensor_scan_json.empty()
                        ? TensorScan{}
                        : TensorScan::from_json(nlohmann::json::parse(store.tensor_scan_json), "/tensor_scan/json");
  std::map<std::pair<int, int>, StdCurveComparison> curves;
  for (const auto& [pair, v] : verdicts) {
    const auto [suspect, other] = pair;
    if (static_cast<std::size_t>(std::max(suspect, other)) < scan.models.size()) {
      curves[pair] = compare_std_curves(std_curves_of(scan.models[static_cast<std::size_t>(suspect)]),
                                        std_curves_of(scan.models[static_cast<std::size_t>(other)]));
    }
  }
  const bool screening = io::is_screening_run(store);
  std::vector<PairOutcome> out;
  for (auto& [pair, v] : verdicts) {
    PairOutcome r{pair.first, pair.second, v, std::nullopt, {}, {}, {}};
    r.outliers = outlier_fingerprint(store, pair.first, pair.second);
    r.byte_identity = byte_identity_of(scan, pair.first, pair.second);
    if (curves.count(pair)) r.std_curves = curves[pair];
    if (starts_with(label_of(store, pair.second), "parent")) {
      std::map<std::string, StdCurveComparison> control_curves;
      for (const auto& [other_pair, c] : curves) {
        if (other_pair.first == pair.first && starts_with(label_of(store, other_pair.second), "control"))
          control_curves[label_of(store, other_pair.second)] = c;
      }
      rank_against_controls(r.std_curves, control_curves);
      std::map<std::string, PairVerdict> controls;
      for (const auto& [other_pair, cv] : verdicts) {
        if (other_pair.first == pair.first && starts_with(label_of(store, other_pair.second), "control")) {
          controls[label_of(store, other_pair.second)] = cv;
        }
      }
      if (!controls.empty()) r.controls = calibrate_with_controls(r.verdict, controls);
    }
    apply_byte_identity(r.byte_identity, r.verdict);
    if (screening) note_screening(r.verdict);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<ValueSummary> summarise(const std::vector<double>& values) {
  std::vector<double> f;
  for (double x : values) {
    if (std::isfinite(x)) f.push_back(x);
  }
  if (f.empty()) return std::nullopt;
  ValueSummary s;
  s.n = f.size();
  for (double x : f) s.mean += x;
  s.mean /= static_cast<double>(f.size());
  double var = 0;
  for (double x : f) var += (x - s.mean) * (x - s.mean);
  s.sd = f.size() > 1 ? std::sqrt(var / static_cast<double>(f.size() - 1)) : 0.0;
  s.min = *std::min_element(f.begin(), f.end());
  s.max = *std::max_element(f.begin(), f.end());
  return s;
}

std::vector<PairLayers> layer_summaries(const io::StoreContents& store) {
  const StoredUnitStats stats(store);
  if (!stats.has("rel_l2") || !stats.has("pearson") || !stats.has("cosine")) return {};
  struct Acc {
    std::map<int, std::vector<std::array<double, 3>>> by_layer;  // pearson, cosine, rel_l2
    std::vector<double> null;
  };
  std::map<std::pair<int, int>, std::map<std::string, Acc>> pairs;
  for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
    const auto& u = store.units[store.done_ids[row]];
    if (u.model_a == u.model_b || u.kind == UnitKind::within) continue;
    auto key = u.key_a;
    key.layer = -1;
    key.expert = -1;
    auto& acc = pairs[{u.model_a, u.model_b}][to_string(key)];
    const auto st = stats.row(row);
    if (u.kind == UnitKind::baseline) {
      acc.null.push_back(st.pearson);
    } else {
      acc.by_layer[u.layer_a].push_back({st.pearson, st.cosine, st.rel_l2});
    }
  }
  std::vector<PairLayers> out;
  for (const auto& [pair, groups] : pairs) {
    PairLayers p{pair.first, pair.second, {}};
    for (const auto& [key, acc] : groups) {
      if (acc.by_layer.empty()) continue;
      RoleLayerSummary r;
      r.role = key;
      std::vector<double> all;
      for (const auto& [layer, vals] : acc.by_layer) {
        double sp = 0, sc = 0, sr = 0;
        for (const auto& v : vals) sp += v[0], sc += v[1], sr += v[2];
        const double n = static_cast<double>(vals.size());
        r.layers.push_back(layer);
        r.pearson.push_back(sp / n);
        r.cosine.push_back(sc / n);
        r.rel_l2.push_back(sr / n);
        for (const auto& v : vals) all.push_back(v[0]);
      }
      r.pearson_summary = summarise(all);
      r.null_pearson = summarise(acc.null);
      p.roles.push_back(std::move(r));
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string context_note(const std::vector<BesideEvidence>& evidence, VerdictClass overall) {
  bool derived = false, against = false;
  for (const auto& e : evidence) {
    derived = derived || e.support == "derived";
    against = against || e.support == "against";
  }
  if (derived && overall == VerdictClass::independent) {
    return "conflict: evidence beside the weights points to derivation while the weights are independent "
           "(distillation, shared data or a reused tokenizer can explain it); the weight verdict stands";
  }
  if (derived && (overall == VerdictClass::derived || overall == VerdictClass::identical ||
                  overall == VerdictClass::partial_reuse)) {
    return "consistent: the evidence beside the weights agrees with the weights";
  }
  if (derived) {
    return "the evidence beside the weights suggests derivation, which the weights do not show; it is never "
           "sufficient on its own";
  }
  if (against && overall != VerdictClass::independent) {
    return "the evidence beside the weights does not support derivation; the weight verdict stands";
  }
  return "no evidence beside the weights bears on this verdict";
}

}  // namespace lineage::stages
