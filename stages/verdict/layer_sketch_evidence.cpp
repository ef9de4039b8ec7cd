#include "stages/verdict/layer_sketch_evidence.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <string>

#include "stages/align/layer_sketch_similarity.hpp"
#include "stages/execute/expert_sketch.hpp"

namespace lineage::stages {

namespace {

constexpr std::array<const char*, 4> kMatrixFamilies = {"attention", "routers", "shared_experts", "dense_mlp"};

/// The tensor's name within its family: the key without its layer.
std::string tensor_of(TensorKey key) {
  key.layer = -1;
  return to_string(key);
}

AlignedLayerMatrix aligned(LayerSimilarity s, const LayerAlignmentRules& rules) {
  AlignedLayerMatrix m;
  m.alignment = align_layers(s, rules);
  m.similarity = std::move(s);
  return m;
}

}  // namespace

void add_layer_sketch_alignments(std::vector<FamilyLayerAlignment>& families, const io::StoreContents& store,
                                 int suspect, int other, const PairLayout& layout, const LayerAlignmentRules& rules) {
  // family -> model side (0: suspect, 1: other) -> sketches
  std::map<std::string, std::array<FamilySketches, 2>> by_family;
  for (const auto row : store.sketches) {
    const auto id = row.id;
    if (id >= store.units.size()) continue;
    const auto& u = store.units[id];
    const auto& key = u.key_a;
    if (!layer_sketched(key)) continue;
    const auto family = verdict_component(key);
    if (u.kind == UnitKind::same_key && u.model_a == suspect && u.model_b == other) {
      by_family[family][0].set(tensor_of(key), key.layer, row.a());
      by_family[family][1].set(tensor_of(u.key_b), u.key_b.layer, row.b());
    } else if (u.kind == UnitKind::layer_sketch && u.model_a == u.model_b &&
               (u.model_a == suspect || u.model_a == other)) {
      by_family[family][u.model_a == suspect ? 0 : 1].set(tensor_of(key), key.layer, row.a());
    }
  }
  for (const char* family : kMatrixFamilies) {
    const auto it = by_family.find(family);
    if (it == by_family.end()) continue;
    auto& [a, b] = it->second;
    if (common_tensors(a, b).empty() || a.layers < 2 || b.layers < 2) continue;
    a.layers = std::max(a.layers, layout.suspect_layers);
    b.layers = std::max(b.layers, layout.other_layers);
    FamilySketchAlignment s;
    s.tensors = common_tensors(a, b);
    SketchSimilarityOptions raw_options;
    raw_options.centred = false;
    s.raw = aligned(sketch_layer_similarity(a, b, raw_options), rules);
    s.centred = aligned(sketch_layer_similarity(a, b), rules);
    s.within_suspect = aligned(sketch_within_similarity(a), rules);
    s.within_other = aligned(sketch_within_similarity(b), rules);
    s.within_suspect_raw = aligned(sketch_within_similarity(a, raw_options), rules);
    s.within_other_raw = aligned(sketch_within_similarity(b, raw_options), rules);
    auto f = std::find_if(families.begin(), families.end(),
                          [&](const FamilyLayerAlignment& x) { return x.family == family; });
    if (f == families.end()) {
      FamilyLayerAlignment entry;
      entry.family = family;
      entry.statistic = "h";
      entry.raw.suspect_layers = entry.centred.suspect_layers = a.layers;
      entry.raw.other_layers = entry.centred.other_layers = b.layers;
      families.push_back(std::move(entry));
      f = std::prev(families.end());
    }
    f->sketches = std::move(s);
  }
}

std::string layer_sketch_summary(const std::vector<FamilyLayerAlignment>& families) {
  std::string out;
  for (const auto& f : families) {
    if (!f.sketches) continue;
    const auto& a = f.sketches->centred.alignment;
    const bool mapped = std::any_of(a.layer_map.begin(), a.layer_map.end(), [](int j) { return j >= 0; });
    char p[32];
    std::snprintf(p, sizeof p, "%.2g", a.map_p);
    out += std::string(out.empty() ? "; by the matrices' sketches: " : ", ") + f.family + " " +
           (mapped ? format_layer_map(a.layer_map) + " (p " + p + ")"
                   : "best match per layer " + format_layer_map(a.best_match) + " (no map)");
  }
  return out;
}

}  // namespace lineage::stages
