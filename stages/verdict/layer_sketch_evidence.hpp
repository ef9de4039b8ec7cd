#pragma once
/// @file layer_sketch_evidence.hpp
/// The matrix role families' full layer x layer matrices of one pair, from the sketches the pass
/// made of every layer matrix (same-key units: both models; layer_sketch units: the layers one
/// model alone has), across the pair and within each model, each with its alignment
/// (stages/align/layer_alignment.hpp). The pass's units cover only the layer pairs (i, i) and
/// (i, i+1) for these roles; the sketches cover them all with no further read.

#include <string>
#include <vector>

#include "io/store/result_store.hpp"
#include "stages/align/layer_alignment.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// Sets FamilyLayerAlignment::sketches for every matrix family (attention, routers,
/// shared_experts, dense_mlp) with sketches of at least two layers on both sides, adding the
/// family to `families` when the units gave it no entry.
void add_layer_sketch_alignments(std::vector<FamilyLayerAlignment>& families, const io::StoreContents& store,
                                 int suspect, int other, const PairLayout& layout,
                                 const LayerAlignmentRules& rules = {});

/// "; by the matrices' sketches: attention new 0..5 <- old [0,1,1,2,3,3] (p 0.051), ..." for the
/// families with sketches (their centred suspect x other map; the best match per layer where the
/// map is empty); empty without sketches.
[[nodiscard]] std::string layer_sketch_summary(const std::vector<FamilyLayerAlignment>& families);

}  // namespace lineage::stages
