#pragma once
/// @file token_mapped_units.hpp
/// Units that compare embedding and lm_head rows through the token map (METHODS §7.3): for the
/// suspect and each other model whose folders both hold a tokenizer.json, a hash-chosen sample
/// of the tokens both vocabularies hold (as bytes), row id_A(t) of the suspect against row
/// id_B(t) of the other. The map is built here, at plan time, from the two folders' tokenizers,
/// and carried by the unit (ComparisonUnit::rows_a, rows_b): every rank builds the same units,
/// and a unit is computed whole by one rank, so the result does not depend on the rank count.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/model_source.hpp"
#include "stages/inventory/inventory.hpp"
#include "stages/pair/pair_models.hpp"

namespace lineage::stages {

struct TokenMappedOptions {
  /// Tokens per unit: the rows read stay small (4096 rows of both tables) whatever the
  /// vocabulary, and 2048 fitting tokens still over-determine a rotation up to hidden 1024.
  std::size_t max_tokens = 4096;
  /// ... and at most this many elements a table (tokens x hidden): the unit holds its tables in
  /// float four times over (both sides, decoded and standardised for the null), so 4,096 tokens at
  /// hidden 7,168 took a rank to 454 MB; 2^24 keeps that under 300 MB at any hidden size and
  /// leaves 4,096 tokens up to hidden 4,096 (docs/methods.md, "Embeddings through tokens").
  std::uint64_t max_elements = std::uint64_t{1} << 24;
  /// Fewer shared tokens than this: no unit (a per-token statistic over so few says little).
  std::size_t min_tokens = 64;
  std::uint64_t seed = 0x746f6b656e6d6170ULL;  ///< "tokenmap": the same sample in every run
  /// Planning (PairOptions::sizes_only): the inventories have shapes but no byte offsets.
  bool sizes_only = false;
  /// How remote models (planning only) are read: their tokenizer.json too.
  io::RemoteOptions remote;
};

/// Appends the token_mapped units of every (suspect, other model) pair to `pairs.units` (ids
/// continue the list) and says in `pairs.notes` why a pair has none (a folder without
/// tokenizer.json, an unreadable one, too few shared tokens, different hidden sizes). Never
/// throws for a tokenizer problem: the embeddings are then compared by id only, as before.
/// @param[in] models  the run's inventories, suspect first (Inventory::model_dir locates the tokenizers)
void add_token_mapped_units(PairResult& pairs, const std::vector<const Inventory*>& models,
                            const TokenMappedOptions& options = {});

}  // namespace lineage::stages
