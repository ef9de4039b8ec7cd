#include "stages/pair/pair_models.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "core/heap_tuning.hpp"
#include "core/parallel_for.hpp"
#include "stages/execute/expert_sketch.hpp"
#include "stages/null/hidden_null.hpp"
#include "stages/pair/block_scale_companions.hpp"

namespace lineage::stages {
namespace {

bool is_vector_role(const TensorKey& k, std::uint64_t rows, std::uint64_t cols) {
  return cols == 1 || rows == 1 || k.kind == ParamKind::bias;
}

/// Whether a baseline reads its tensors whole rather than the null's sampled rows: routers and
/// tensors of at most keep_values_max elements (norm vectors, biases), whose layer x layer
/// statistics are computed entire.
bool reads_whole(const TensorKey& k, std::uint64_t elements, const PairOptions& o) {
  if (k.role == TensorRole::router || k.role == TensorRole::router_bias) return true;
  return elements <= o.keep_values_max;
}

/// Whether a unit keeps its decoded values for the store: what the verdict reads from them (the
/// router matchings and the outlier fingerprint of norm vectors, stages/verdict), of the same key
/// in both models or their common sub-matrix. Every unit a small tensor is in kept it before:
/// the layer x layer baselines pair a norm vector with every other layer's, so a 61-layer pair
/// stored each one about 240 times, and the experts of a small MoE (2^16 elements or fewer)
/// filled the journal with their values (3.2 GB for a 2.4 GB pair of 61 layers).
bool keeps_values(const TensorKey& k, UnitKind kind, std::uint64_t elements, const PairOptions& o) {
  if (kind != UnitKind::same_key && kind != UnitKind::submatrix) return false;
  if (k.role == TensorRole::router || k.role == TensorRole::router_bias) return true;
  return is_norm_role(k.role) && elements <= o.keep_values_max;
}

/// What a run does with a model's quantised weights, said once per model (METHODS §0 asks for
/// statistics on dequantised values). A weight stored beside a scale companion
/// (families/_quantization.yaml: block-FP8 `weight_scale_inv`, LLM.int8 `SCB`) is compared on its
/// values, codes times their block's factor, when its codes are 8-bit floats and the companion is a
/// block grid of its shape (BlockScaleCompanions); on its stored codes when the companion fits no
/// grid; and not at all when its codes are integers. Empty when no weight has a scale.
std::vector<std::string> quantised_weight_notes(const Inventory& inv) {
  std::set<TensorKey> scaled;
  for (const auto& t : inv.tensors) {
    if (t.key.kind != ParamKind::scale) continue;
    TensorKey weight = t.key;
    weight.kind = ParamKind::weight;
    scaled.insert(weight);
  }
  if (scaled.empty()) return {};
  std::size_t skipped = 0;
  for (const auto& t : inv.tensors) {
    if (t.key.kind == ParamKind::weight && scaled.contains(t.key) && t.dtype && !dtype_is_float(*t.dtype)) ++skipped;
  }
  const BlockScaleCompanions companions(inv);
  const std::string see = " (docs/methods.md, \"Quantised weights\")";
  std::vector<std::string> notes;
  if (!companions.empty()) {
    notes.push_back(inv.model_dir + ": " + std::to_string(companions.size()) +
                    " block-scaled weights are compared on their values, their codes times their block's factor" + see);
  }
  if (companions.unscaled_weights() > 0) {
    notes.push_back(inv.model_dir + ": " + std::to_string(companions.unscaled_weights()) +
                    " quantised weights are compared on their stored codes: their scale companions fit no block grid "
                    "of their shapes" +
                    see);
  }
  if (skipped > 0) {
    notes.push_back(inv.model_dir + ": " + std::to_string(skipped) + " integer-quantised weights are not compared" +
                    see);
  }
  return notes;
}

/// Key with the layer removed: what "the same role in another layer" means.
TensorKey role_of(TensorKey k) {
  k.layer = -1;
  return k;
}

/// One model's views by key: element_views' sorted list with repeated keys dropped (one kept, the
/// first after the sort, as the map's emplace kept one), searched by bisection. As a std::map it was one node
/// allocation per view, 100k per model of a 100k-tensor checkpoint.
class ViewsByKey {
 public:
  using Entry = std::pair<TensorKey, ElementView>;
  using const_iterator = std::vector<Entry>::const_iterator;

  ViewsByKey() = default;
  explicit ViewsByKey(std::vector<Entry> sorted) : entries_(std::move(sorted)) {
    const auto same_key = [](const Entry& x, const Entry& y) { return x.first == y.first; };
    entries_.erase(std::unique(entries_.begin(), entries_.end(), same_key), entries_.end());
  }
  [[nodiscard]] const_iterator begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return entries_.end(); }
  /// The first entry whose key is not less than `key`.
  [[nodiscard]] const_iterator lower_bound(const TensorKey& key) const {
    return std::lower_bound(entries_.begin(), entries_.end(), key,
                            [](const Entry& e, const TensorKey& k) { return e.first < k; });
  }
  [[nodiscard]] const_iterator find(const TensorKey& key) const {
    const auto it = lower_bound(key);
    return it != end() && it->first == key ? it : end();
  }
  [[nodiscard]] bool contains(const TensorKey& key) const { return find(key) != end(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace

std::vector<std::pair<TensorKey, ElementView>> element_views(const Inventory& inv, int model, bool sizes_only,
                                                             const std::function<bool(const TensorKey&)>& keep) {
  std::vector<std::pair<TensorKey, ElementView>> out;
  out.reserve(inv.tensors.size() + inv.views.size());  // at most one view per tensor and per view
  std::vector<bool> has_views(inv.tensors.size(), false);
  for (const auto& v : inv.views) has_views[v.tensor] = true;
  // One shared name per tensor; views and the units that copy them share it (as they share the
  // listing's name of each shard file).
  std::vector<SharedName> names(inv.tensors.size());
  const auto name_of = [&](std::size_t i) -> const SharedName& {
    if (names[i].str().empty()) names[i] = SharedName(inv.tensors[i].name);
    return names[i];
  };
  for (std::size_t i = 0; i < inv.tensors.size(); ++i) {
    const auto& t = inv.tensors[i];
    if (has_views[i] || t.key.kind == ParamKind::scale || t.key.kind == ParamKind::quant_meta) continue;
    if (keep && !keep(t.key)) continue;
    if (!t.dtype || !dtype_is_float(*t.dtype) || t.shape.empty() || !t.shape_known) continue;
    if (t.data_end == 0 && !sizes_only)
      throw InputError(inv.model_dir, "pairing needs shard headers (not an --index-only inventory)");
    ElementView v{model, name_of(i), t.file, *t.dtype, t.data_begin, 0, t.shape[0], 1, 1, 1};
    std::uint64_t rest = 1;
    for (std::size_t d = 1; d < t.shape.size(); ++d) rest *= t.shape[d];
    v.cols = rest;
    v.row_stride = rest;
    out.emplace_back(t.key, std::move(v));
  }
  for (const auto& vw : inv.views) {
    const auto& t = inv.tensors[vw.tensor];
    if (!t.dtype || !dtype_is_float(*t.dtype) || (keep && !keep(vw.key))) continue;
    out.emplace_back(vw.key, ElementView{model, name_of(vw.tensor), t.file, *t.dtype, t.data_begin, vw.offset, vw.rows,
                                         vw.cols, vw.row_stride, vw.col_stride});
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  return out;
}

PairResult pair_models(const std::vector<const Inventory*>& models, const PairOptions& options) {
  if (models.size() < 2) throw InternalError("pair_models needs the suspect and at least one other model");
  PairResult out;
  // The models' views built on up to as many threads as there are cores (a 100k-tensor model's
  // took about 5% of `lineage plan`); the first failure in model order is the one reported.
  std::vector<ViewsByKey> by_key(models.size());
  parallel_for(models.size(), [&](std::size_t m) {
    by_key[m] = ViewsByKey(element_views(*models[m], static_cast<int>(m), options.sizes_only));
  });
  // The pairing runs twice: the first pass only counts the units, so that the second writes them
  // into a vector of their final size (growing it to 400k units of 300 bytes moved every unit
  // again and touched twice the memory: a sixth of `lineage plan` on a 100k-tensor checkpoint).
  bool counting = true;
  std::size_t count = 0;
  auto add = [&](UnitKind kind, const TensorKey& ka, const ElementView& a, const TensorKey& kb, const ElementView& b,
                 std::uint64_t rows, std::uint64_t cols) {
    if (counting) {
      ++count;
      return;
    }
    auto& u = out.units.emplace_back();  // written in place: a unit is 300 bytes
    u.id = out.units.size() - 1;
    u.kind = kind;
    u.key_a = ka;
    u.key_b = kb;
    u.a = a;
    u.b = b;
    u.rows = rows;
    u.cols = cols;
    u.keep_values = keeps_values(ka, kind, rows * cols, options);
    u.sketch = (layer_sketched(ka) ? options.layer_sketches : options.expert_sketches) && sketched(ka, kind);
    // Baselines describe a null: the null's sampled rows serve them (routers and small tensors
    // are the exception, the layer x layer analyses need them entire).
    if ((kind == UnitKind::baseline || kind == UnitKind::within) && !reads_whole(ka, rows * cols, options)) {
      const auto n = sample_row_count(rows, cols);
      u.sampled = n < rows;
      u.sampled_rows = n;
    }
    // Read for their sketches only: the pass reads none of their elements (only the sketch's
    // few), so they cost the plan nothing.
    if (kind == UnitKind::expert_sketch || kind == UnitKind::layer_sketch) {
      u.sampled = true;
      u.sampled_rows = 0;
    }
  };
  // Pairs of layers of one role: every pair for vector roles, one shifted partner (i, i+1) per
  // layer for matrices (one extra pass keeps the cost bounded). Within one model, each unordered
  // pair once.
  // Each model's per-layer views grouped by role, built once: the two passes pair them with the
  // suspect's (baselines) and with the model's own (within).
  using LayerGroups = std::map<TensorKey, std::vector<std::pair<const TensorKey*, const ElementView*>>>;
  std::vector<std::optional<LayerGroups>> layer_groups(models.size());
  const auto layers_of = [&](std::size_t m) -> const LayerGroups& {
    if (!layer_groups[m]) {
      auto& groups = layer_groups[m].emplace();
      for (const auto& [k, v] : by_key[m]) {
        if (k.layer >= 0) groups[role_of(k)].emplace_back(&k, &v);
      }
    }
    return *layer_groups[m];
  };
  auto add_layer_pairs = [&](std::size_t x, std::size_t y, UnitKind kind) {
    const auto& layers_a = layers_of(x);
    const auto& layers_b = layers_of(y);
    for (const auto& [role, as] : layers_a) {
      const auto itb = layers_b.find(role);
      if (itb == layers_b.end()) continue;
      const auto& bs = itb->second;
      for (std::size_t i = 0; i < as.size(); ++i) {
        const auto& [ka, va] = as[i];
        const bool vec = is_vector_role(*ka, va->rows, va->cols);
        // A matrix has one partner, j = i + 1 (wrapping): visit only it instead of every j.
        const std::size_t first = vec ? 0 : (i + 1) % bs.size();
        const std::size_t last = vec ? bs.size() : first + 1;
        for (std::size_t j = first; j < last; ++j) {
          const auto& [kb, vb] = bs[j];
          if (kb->layer == ka->layer) continue;
          if (kind == UnitKind::within && vec && kb->layer < ka->layer) continue;
          // Layer 0's input norm sees raw embeddings and is no baseline (METHODS §1.2).
          if (ka->role == TensorRole::attn_norm && (ka->layer == 0 || kb->layer == 0)) continue;
          if (va->rows != vb->rows || va->cols != vb->cols) continue;
          add(kind, *ka, *va, *kb, *vb, va->rows, va->cols);
        }
      }
    }
  };
  const auto pair_all = [&] {
    const auto& suspect = by_key[0];
    std::set<TensorKey>
        sketch_only_suspect;  // the suspect's unpaired experts and layer matrices, once for all other models
    for (std::size_t m = 1; m < models.size(); ++m) {
      const auto& other = by_key[m];
      // 1. Same key in both models.
      for (const auto& [k, a] : suspect) {
        const auto it = other.find(k);
        if (it == other.end()) {
          out.unmatched.push_back({0, static_cast<int>(m), k});
          continue;
        }
        const auto& b = it->second;
        if (a.rows == b.rows && a.cols == b.cols) {
          add(UnitKind::same_key, k, a, k, b, a.rows, a.cols);
        } else {
          add(UnitKind::submatrix, k, a, k, b, std::min(a.rows, b.rows), std::min(a.cols, b.cols));
          out.submatrix_keys.push_back(to_string(k));
        }
      }
      for (const auto& [k, b] : other) {
        if (!suspect.contains(k)) out.unmatched.push_back({static_cast<int>(m), 0, k});
      }
      // 2. Upcycling (METHODS §5.6): a layer where the suspect has routed experts and the other a
      //    dense MLP; each expert projection against the dense one of the same shape.
      for (const auto& [k, a] : suspect) {
        if (k.role != TensorRole::routed_expert || k.kind != ParamKind::weight || other.contains(k)) continue;
        TensorKey dense = k;
        dense.role = TensorRole::dense_mlp;
        dense.expert = -1;
        const auto it = other.find(dense);
        if (it == other.end() || it->second.rows != a.rows || it->second.cols != a.cols) continue;
        add(UnitKind::cross_role, k, a, dense, it->second, a.rows, a.cols);
      }
      // 2b. Routed experts of either model without a same-key counterpart (pruned or added experts),
      //     read for their sketches only: the expert matching needs every expert of both models.
      //     Only in layers where both models have routed experts (else 2. covers upcycling).
      const auto has_experts = [](const ViewsByKey& x, const TensorKey& k) {
        TensorKey probe;
        probe.component = k.component;
        probe.role = TensorRole::routed_expert;
        probe.layer = k.layer;
        const auto it = x.lower_bound(probe);
        return it != x.end() && it->first.role == TensorRole::routed_expert && it->first.layer == k.layer &&
               it->first.component == k.component;
      };
      for (const auto* side : {&suspect, &other}) {
        if (!options.expert_sketches) break;
        const auto* counterpart = side == &suspect ? &other : &suspect;
        for (const auto& [k, v] : *side) {
          if (k.role != TensorRole::routed_expert || k.kind != ParamKind::weight || counterpart->contains(k)) continue;
          if (!has_experts(*counterpart, k)) continue;
          if (side == &suspect && !sketch_only_suspect.insert(k).second) continue;
          add(UnitKind::expert_sketch, k, v, k, v, v.rows, v.cols);
        }
      }
      // 2c. Layer matrices (attention, router, shared expert, dense MLP) of either model without a
      //     same-key counterpart (the layers a depth up-scaling added or a pruning dropped), read
      //     for their sketches only: the layer x layer sketch matrices need every layer of both.
      for (const auto* side : {&suspect, &other}) {
        if (!options.layer_sketches) break;
        const auto* counterpart = side == &suspect ? &other : &suspect;
        for (const auto& [k, v] : *side) {
          if (!layer_sketched(k) || v.rows < 2 || v.cols < 2 || counterpart->contains(k)) continue;
          if (side == &suspect && !sketch_only_suspect.insert(k).second) continue;
          add(UnitKind::layer_sketch, k, v, k, v, v.rows, v.cols);
        }
      }
      if (!options.baselines) continue;
      // 3. Cross-layer baselines: same role, different layers, suspect x other (METHODS §4.1).
      add_layer_pairs(0, m, UnitKind::baseline);
    }
    if (options.baselines) {
      // 4. Within-model baselines: every model's own layers against each other (METHODS §4.1:
      //    A x A and B x B show how alike a model's layers are by construction).
      for (std::size_t m = 0; m < models.size(); ++m) add_layer_pairs(m, m, UnitKind::within);
    }
  };
  pair_all();
  out.unmatched.clear();  // the counting pass recorded them too
  out.submatrix_keys.clear();
  counting = false;
  out.units.reserve(count);
  advise_huge_pages(out.units.data(), count * sizeof(ComparisonUnit));
  pair_all();
  std::set<std::string> noted;  // a model given twice (as suspect and parent) is noted once
  for (const auto* m : models) {
    if (!noted.insert(m->model_dir).second) continue;
    for (auto& note : quantised_weight_notes(*m)) out.notes.push_back(std::move(note));
  }
  return out;
}

}  // namespace lineage::stages
