#pragma once
/// @file layer_alignment_evidence.hpp
/// Layer x layer matrices of one pair, per role family, from the units the compare pass stored
/// (same-key units on the diagonal, cross-layer baselines off it), and their alignment
/// (stages/align/layer_alignment.hpp). What the store holds decides which cells exist: every
/// layer pair for norm vectors, the same layer and one shifted pairing (i, i+1) for matrices;
/// the rest are reported missing, never filled in. The matrix roles' full matrices come from
/// their sketches instead (stages/verdict/layer_sketch_evidence.hpp, FamilyLayerAlignment::sketches).

#include <vector>

#include "io/store/result_store.hpp"
#include "stages/align/layer_alignment.hpp"
#include "stages/verdict/verdict.hpp"

namespace lineage::stages {

/// Families with at least one stored cell, in a fixed order (norms, attention, routers,
/// shared_experts, dense_mlp). The centred matrix averages h over a cell's units that carry a
/// permutation test; the raw one their raw cosine.
/// @param[in] layout  the layer counts (0: taken from the units' layers)
[[nodiscard]] std::vector<FamilyLayerAlignment> layer_alignments(const EvidenceList& units, const PairLayout& layout,
                                                                 const LayerAlignmentRules& rules = {});

/// The norms' layers against their own layers within each model of the pair, from the pass's
/// `within` units (one per pair of layers of a norm role, stored for every model): a cell is the
/// mean Pearson correlation over the norm roles of the two layers' vectors, the diagonal is not
/// compared, and a bright cell off it is a repeated layer. Sets the norms family's
/// `within_suspect` and `within_other` (nothing when the store has no such units), and beside them
/// `within_suspect_raw` and `within_other_raw` on the raw cosine, which the 1.0 norm weights start
/// at keeps near 1 for every pair of layers.
void add_norm_within_alignments(std::vector<FamilyLayerAlignment>& families, const io::StoreContents& store,
                                int suspect, int other, const PairLayout& layout,
                                const LayerAlignmentRules& rules = {});

}  // namespace lineage::stages
