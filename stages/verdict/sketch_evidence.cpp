#include "stages/verdict/sketch_evidence.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "core/tensor_key.hpp"
#include "core/usable_cores.hpp"
#include "stages/align/expert_matching.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/pair/comparison_unit.hpp"
#include "stages/verdict/store_evidence.hpp"

namespace lineage::stages {
namespace {

/// layer -> expert -> projection -> sketch (a view of the store's), of one model.
using ModelSketches = std::map<int, std::map<int, std::map<Projection, std::span<const float>>>>;

/// Correlation of two rows (centred; NaN-free rows as the router matching reads them).
double row_correlation(const float* a, const float* b, std::uint64_t n) {
  double ma = 0, mb = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    ma += std::isfinite(a[i]) ? a[i] : 0.0;
    mb += std::isfinite(b[i]) ? b[i] : 0.0;
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double ab = 0, aa = 0, bb = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double x = (std::isfinite(a[i]) ? a[i] : 0.0) - ma, y = (std::isfinite(b[i]) ? b[i] : 0.0) - mb;
    ab += x * y, aa += x * x, bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

/// Both sides' whole router rows of one layer, when both were kept (one row per expert).
struct Routers {
  std::span<const float> a;
  std::span<const float> b;
  std::uint64_t cols = 0;
};

std::map<int, Routers> routers_of(const io::StoreContents& store, int suspect, int other) {
  std::map<int, Routers> out;
  for (const auto v : store.values) {
    const auto& u = store.units[v.id];
    if (u.model_a != suspect || u.model_b != other || u.key_a.role != TensorRole::router || u.cols == 0) continue;
    if (u.kind != UnitKind::same_key && u.kind != UnitKind::submatrix) continue;
    if (u.key_a.kind != ParamKind::weight) continue;
    out[u.layer_a] = {v.a, v.b, u.cols};
  }
  return out;
}

}  // namespace

std::vector<LayerSketchMatching> sketch_matchings(const io::StoreContents& store, int suspect, int other,
                                                  const SketchNull& null) {
  ModelSketches sa, sb;
  for (const auto row : store.sketches) {
    const auto& u = store.units[row.id];
    const auto kind = u.kind;
    const auto& key = u.key_a;
    if (key.component != Component::text || key.role != TensorRole::routed_expert || key.layer < 0 || key.expert < 0)
      continue;
    if (kind == UnitKind::same_key && u.model_a == suspect && u.model_b == other) {
      sa[key.layer][key.expert][key.projection] = row.a();
      sb[key.layer][key.expert][key.projection] = row.b();
    } else if (kind == UnitKind::matched_expert && u.model_a == suspect && u.model_b == other &&
               u.key_b.layer == key.layer && u.key_b.expert >= 0) {
      // A moved expert's sketches (the same as its same-key unit's, which may not be computed).
      sa[key.layer][key.expert][key.projection] = row.a();
      sb[key.layer][u.key_b.expert][key.projection] = row.b();
    } else if (kind == UnitKind::expert_sketch && u.model_a == u.model_b &&
               (u.model_a == suspect || u.model_a == other)) {
      (u.model_a == suspect ? sa : sb)[key.layer][key.expert][key.projection] = row.a();
    }
  }
  // The router matchings, by layer, to set beside the sketch matchings.
  std::map<int, ExpertMatching> router_by_layer;
  for (auto& lm : router_matchings(store, suspect, other)) router_by_layer[lm.layer] = std::move(lm.matching);
  const auto routers = routers_of(store, suspect, other);
  std::vector<LayerSketchMatching> out;
  // Per entry of out: the layer's experts on both sides and their common projections. Each layer's
  // sketches are gathered only when a worker matches it: gathered all at once they are a copy of
  // every sketch of the pair (50 MB at 61 layers of 256 experts).
  using LayerExperts = ModelSketches::mapped_type;
  struct LayerInput {
    const LayerExperts* a;
    const LayerExperts* b;
    std::vector<Projection> common;
  };
  std::vector<LayerInput> inputs;
  const auto gather = [](const LayerExperts& experts, const std::vector<Projection>& common) {
    LayerSketches s;
    s.experts = experts.size();
    s.projections = common.size();
    for (const auto& [e, projections] : experts) {
      for (auto p : common) s.data.insert(s.data.end(), projections.at(p).begin(), projections.at(p).end());
    }
    return s;
  };
  for (const auto& [layer, experts_a] : sa) {
    const auto itb = sb.find(layer);
    if (itb == sb.end()) continue;
    const auto& experts_b = itb->second;
    // Experts 0..E-1 on both sides, and the projections every one of them has.
    const auto contiguous = [](const auto& experts) {
      int next = 0;
      for (const auto& [e, projections] : experts) {
        if (e != next++) return false;
      }
      return true;
    };
    if (experts_a.size() < 2 || experts_b.size() < 2 || !contiguous(experts_a) || !contiguous(experts_b)) continue;
    std::set<Projection> common;
    for (const auto& [p, s] : experts_a.begin()->second) common.insert(p);
    for (const auto* experts : {&experts_a, &experts_b}) {
      for (const auto& [e, projections] : *experts) {
        for (auto it = common.begin(); it != common.end();) {
          const auto f = projections.find(*it);
          it = f == projections.end() || f->second.size() != kSketchWidth ? common.erase(it) : std::next(it);
        }
      }
    }
    if (common.empty()) continue;
    LayerSketchMatching lm;
    lm.layer = layer;
    for (auto p : common) lm.projections.emplace_back(to_string(p));
    inputs.push_back({&experts_a, &experts_b, {common.begin(), common.end()}});
    out.push_back(std::move(lm));
  }
  // The layers' matchings are independent and the costly part (about 0.06 s a layer at 128
  // experts): computed on a few threads, each layer whole on one, so the results do not depend
  // on the thread count. The verdict runs on one rank while the others wait, so the cores this
  // process may use (its affinity, which a one-core-per-rank allocation narrows) are otherwise idle.
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;  // the first worker's exception, thrown again here
  const auto work = [&] {
    try {
      for (std::size_t i = next++; i < out.size(); i = next++) {
        const auto& in = inputs[i];
        out[i].matching = match_experts_by_sketch(gather(*in.a, in.common), gather(*in.b, in.common),
                                                  0x736b6d61746368ULL + static_cast<std::uint64_t>(out[i].layer), null);
      }
    } catch (...) {
      next = out.size();
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
    }
  };
  {
    const auto threads = std::min<std::size_t>({out.size(), usable_cores(), 8});
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }
  if (failure) std::rethrow_exception(failure);
  for (auto& lm : out) {
    const int layer = lm.layer;
    const std::size_t experts_a = sa.at(layer).size(), experts_b = sb.at(layer).size();
    // Router rows: their own matching's agreement with the sketches', and the rows reordered.
    const auto r = routers.find(layer);
    if (r != routers.end()) {
      const auto& [ra, rb, cols] = r->second;
      const auto n_a = ra.size() / cols, n_b = rb.size() / cols;
      if (n_a == experts_a && n_b == experts_b && ra.size() == n_a * cols && rb.size() == n_b * cols) {
        lm.has_router = true;
        const auto& m = lm.matching.match;
        double in_place = 0, reordered = 0;
        int n_in = 0, n_re = 0;
        for (std::size_t e = 0; e < n_a; ++e) {
          if (e < n_b) in_place += row_correlation(ra.data() + e * cols, rb.data() + e * cols, cols), ++n_in;
          if (m[e] >= 0) {
            reordered += row_correlation(ra.data() + e * cols, rb.data() + static_cast<std::size_t>(m[e]) * cols, cols);
            ++n_re;
          }
        }
        lm.router_in_place = n_in > 0 ? in_place / n_in : 0.0;
        lm.router_reordered = n_re > 0 ? reordered / n_re : 0.0;
        if (const auto rm = router_by_layer.find(layer); rm != router_by_layer.end()) {
          lm.router_match = rm->second.match;
          for (std::size_t e = 0; e < lm.router_match.size() && e < m.size(); ++e) {
            lm.router_agreement += m[e] >= 0 && m[e] == lm.router_match[e] ? 1 : 0;
          }
          lm.router_agreement_p = agreement_p(lm.router_agreement);
        }
      }
    }
  }
  return out;
}

}  // namespace lineage::stages
