#include "stages/verdict/neuron_evidence.hpp"

#include <algorithm>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "core/tensor_key.hpp"
#include "stages/execute/unit_stats.hpp"
#include "stages/pair/comparison_unit.hpp"

namespace lineage::stages {

double binomial_upper_tail(std::uint64_t c, std::uint64_t n, double q) {
  if (c == 0) return 1.0;
  if (c > n || !(q > 0)) return 0.0;
  if (q >= 1) return 1.0;
  return boost::math::ibeta(static_cast<double>(c), static_cast<double>(n - c + 1), q);
}

namespace {

/// Agreements of two matchings of the same sampled neurons, and the p of that many under
/// independence at the rate their matches coincide between different sampled neurons (a hub
/// neuron that many sampled neurons match raises it).
std::pair<std::uint64_t, double> agreement(const ProjectionMatching& x, const ProjectionMatching& y) {
  const auto m = x.other_neurons.size();
  std::uint64_t same = 0;
  std::map<std::uint64_t, std::uint64_t> in_y;
  for (std::size_t i = 0; i < m; ++i) {
    same += x.other_neurons[i] == y.other_neurons[i] ? 1 : 0;
    ++in_y[y.other_neurons[i]];
  }
  std::uint64_t cross = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const auto it = in_y.find(x.other_neurons[i]);
    if (it != in_y.end()) cross += it->second;
  }
  cross -= same;
  const double pairs = static_cast<double>(m) * static_cast<double>(m - 1);
  const double chance = std::max(1.0 / static_cast<double>(std::max<std::uint64_t>(x.neurons, 1)),
                                 pairs > 0 ? static_cast<double>(cross) / pairs : 1.0);
  return {same, binomial_upper_tail(same, m, chance)};
}

}  // namespace

std::vector<MlpNeuronMatching> neuron_matchings(const io::StoreContents& store, int suspect, int other,
                                                double threshold, NeuronPairing pairing) {
  const StoredUnitStats stats(store);
  if (!stats.has("neuron_sampled") || !stats.has("neuron_p")) return {};
  std::map<std::tuple<std::string, int, int>, MlpNeuronMatching> by_mlp;
  // Moved experts are matched against the expert they were matched to (matched_expert units),
  // not against the one at their index.
  std::set<TensorKey> moved;
  for (const auto& u : store.units) {
    if (u.model_a == suspect && u.model_b == other && u.kind == UnitKind::matched_expert) moved.insert(u.key_a);
  }
  for (std::size_t row = 0; row < store.done_ids.size(); ++row) {
    const auto id = store.done_ids[row];
    const auto& u = store.units[id];
    if (u.model_a != suspect || u.model_b != other) continue;
    if (pairing == NeuronPairing::expert_to_dense) {
      if (u.kind != UnitKind::cross_role) continue;
    } else if (u.kind != UnitKind::matched_expert && (u.kind != UnitKind::same_key || moved.count(u.key_a))) {
      continue;
    }
    const auto nm = store.neuron_matches.find(id);
    if (!nm || nm->a().empty()) continue;
    const auto st = stats.row(row);
    if (st.neuron_sampled == 0 || !std::isfinite(st.neuron.observed)) continue;
    const auto& key = u.key_a;
    ProjectionMatching pm;
    pm.projection = std::string(to_string(key.projection));
    pm.neurons = key.projection == Projection::down ? u.cols : u.rows;
    pm.sampled = st.neuron_sampled;
    pm.in_place = st.neuron_in_place;
    pm.matched_corr = st.neuron.observed;
    pm.null_sd = st.neuron.null_sd;
    pm.p = st.neuron.p;
    pm.margin = st.neuron_margin;
    pm.suspect_neurons.assign(nm->a().begin(), nm->a().end());
    pm.other_neurons.assign(nm->b().begin(), nm->b().end());
    auto& mlp = by_mlp[{std::string(to_string(key.role)), key.layer, key.expert}];
    mlp.role = std::string(to_string(key.role));
    mlp.layer = key.layer;
    mlp.expert = key.expert;
    mlp.projections.push_back(std::move(pm));
  }
  std::vector<MlpNeuronMatching> out;
  for (auto& [k, mlp] : by_mlp) {
    auto& ps = mlp.projections;
    std::sort(ps.begin(), ps.end(), [](const auto& x, const auto& y) { return x.projection < y.projection; });
    mlp.p = 0;
    mlp.matched_corr = ps.front().matched_corr;
    for (const auto& p : ps) {
      mlp.p = std::max(mlp.p, p.p);
      mlp.matched_corr = std::min(mlp.matched_corr, p.matched_corr);
      mlp.in_place_share =
          std::max(mlp.in_place_share, static_cast<double>(p.in_place) / static_cast<double>(p.sampled));
    }
    // Agreement over the projections that sampled the same neurons (all of one MLP do, unless
    // a fused gate_up doubles the count).
    std::vector<const ProjectionMatching*> same;
    for (const auto& p : ps) {
      if (p.suspect_neurons == ps.front().suspect_neurons) same.push_back(&p);
    }
    mlp.sampled = ps.front().suspect_neurons.size();
    mlp.recovered.assign(mlp.sampled, -1);
    if (same.size() >= 2) {
      mlp.agreement_p = 0;
      for (std::size_t a = 0; a < same.size(); ++a) {
        for (std::size_t b = a + 1; b < same.size(); ++b)
          mlp.agreement_p = std::max(mlp.agreement_p, agreement(*same[a], *same[b]).second);
      }
      for (std::size_t i = 0; i < mlp.sampled; ++i) {
        const auto j = same.front()->other_neurons[i];
        const bool all = std::all_of(same.begin(), same.end(), [&](const auto* p) { return p->other_neurons[i] == j; });
        if (all) {
          ++mlp.agree;
          mlp.recovered[i] = static_cast<std::int64_t>(j);
        }
      }
    }
    mlp.matched = mlp.p <= threshold && mlp.agreement_p <= threshold && 2 * mlp.agree >= mlp.sampled;
    mlp.permuted = mlp.matched && mlp.in_place_share <= 0.5;
    out.push_back(std::move(mlp));
  }
  return out;
}

void add_permutation_evidence(PairVerdict& v, const std::vector<MlpNeuronMatching>& neurons,
                              const std::vector<LayerMatching>& experts, double threshold) {
  const auto fmt = [](double x) {
    std::ostringstream o;
    o.precision(2);
    o << x;
    return o.str();
  };
  std::size_t permuted = 0, in_place = 0;
  double worst = 0;
  std::vector<std::uint64_t> agree_count;
  std::uint64_t sampled = 0;
  std::string where;
  for (const auto& m : neurons) {
    if (m.matched && !m.permuted) ++in_place;
    if (!m.permuted) continue;
    ++permuted;
    worst = std::max({worst, m.p, m.agreement_p});
    agree_count.push_back(m.agree);
    sampled = std::max(sampled, m.sampled);
    if (permuted <= 6) {
      where += (where.empty() ? "" : ", ") + m.role + " L" + std::to_string(m.layer) +
               (m.expert >= 0 ? "E" + std::to_string(m.expert) : std::string());
    }
  }
  if (permuted > 6) where += ", ...";
  std::string evidence;
  if (permuted > 0) {
    std::sort(agree_count.begin(), agree_count.end());
    evidence = "neurons permuted in " + std::to_string(permuted) + " of " + std::to_string(neurons.size()) +
               " matched MLPs (" + where + "; " + std::to_string(in_place) +
               " matched in place): gate, up and down matchings agree on a median " +
               std::to_string(agree_count[agree_count.size() / 2]) + " of " + std::to_string(sampled) +
               " sampled neurons, largest p " + fmt(worst);
  }
  std::string reordered;
  double expert_worst = 0;
  for (const auto& l : experts) {
    const auto& m = l.matching;
    if (m.unmatched_other != 0 || m.p > threshold || m.in_place == static_cast<int>(m.match.size())) continue;
    reordered += (reordered.empty() ? "" : ",") + std::to_string(l.layer);
    expert_worst = std::max(expert_worst, m.p);
  }
  const auto kind = std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "permuted"; });
  if (kind == v.kinds.end()) {
    // Only neuron evidence adds the kind: it rests on three agreeing matchings per MLP.
    if (permuted == 0 || v.overall != VerdictClass::derived) return;
    if (v.kinds.empty() && !v.kind.empty()) v.kinds.push_back({v.kind, "", 1.0});
    v.kinds.push_back({"permuted", evidence, worst});
  } else if (!evidence.empty()) {
    kind->evidence += "; " + evidence;
  }
  auto& k = *std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& x) { return x.kind == "permuted"; });
  if (!reordered.empty()) {
    k.evidence += "; experts reordered in layers " + reordered + " (router rows, largest p " + fmt(expert_worst) + ")";
  }
  v.kind.clear();
  for (const auto& x : v.kinds) v.kind += (v.kind.empty() ? "" : " + ") + x.kind;
}

void add_upcycling_evidence(PairVerdict& v, const std::vector<MlpNeuronMatching>& expert_to_dense) {
  std::size_t matched = 0, shuffled = 0;
  double worst = 0;
  std::vector<std::uint64_t> agree;
  std::uint64_t sampled = 0;
  for (const auto& m : expert_to_dense) {
    if (!m.matched) continue;
    ++matched;
    shuffled += m.permuted ? 1 : 0;
    worst = std::max({worst, m.p, m.agreement_p});
    agree.push_back(m.agree);
    sampled = std::max(sampled, m.sampled);
  }
  if (matched == 0 || v.overall != VerdictClass::derived) return;
  std::sort(agree.begin(), agree.end());
  std::ostringstream p;
  p.precision(2);
  p << worst;
  const std::string evidence =
      "neuron by neuron, " + std::to_string(matched) + " of " + std::to_string(expert_to_dense.size()) +
      " experts match the dense MLP of their layer (gate, up and down agree on a median " +
      std::to_string(agree[agree.size() / 2]) + " of " + std::to_string(sampled) + " sampled neurons; " +
      std::to_string(shuffled) + " with their neurons shuffled), largest p " + p.str();
  auto kind = std::find_if(v.kinds.begin(), v.kinds.end(), [](const auto& k) { return k.kind == "upcycled"; });
  if (kind != v.kinds.end()) {
    kind->evidence += "; " + evidence;
    return;
  }
  if (v.kinds.empty() && !v.kind.empty()) v.kinds.push_back({v.kind, "", 1.0});
  v.kinds.push_back({"upcycled", evidence, worst});
  v.kind.clear();
  for (const auto& x : v.kinds) v.kind += (v.kind.empty() ? "" : " + ") + x.kind;
}

}  // namespace lineage::stages
