#pragma once
/// @file catalog_ranking.hpp
/// Ranks a catalogue of public architectures (catalog/*.yaml) against a profile: a whole model
/// against the catalogue's models, and each tower of a composite model against the catalogue's
/// towers of the same kind (a text decoder also against the catalogue's whole models). Equal
/// geometry means a shared design or a copied config, never lineage on its own (METHODS §8).

#include <string>
#include <vector>

#include "io/catalog_file.hpp"
#include "stages/architecture/architecture_profile.hpp"

namespace lineage::stages {

struct RankedEntry {
  const io::CatalogEntry* entry = nullptr;
  std::string tower;  ///< the entry's sub-config compared ("" for the whole entry)
  ArchitectureProfile profile;
  GeometryMatch geometry;
  CoreMatch core;
};

/// Most keys equal first; the share of comparable keys breaks ties, then the model name.
[[nodiscard]] std::vector<RankedEntry> rank_catalog(const ArchitectureProfile& suspect,
                                                    const std::vector<io::CatalogEntry>& catalog,
                                                    const FamilyRegistry& registry);

/// `tower` (from profile_towers) against every catalogue tower of its component, and for a text
/// decoder also against every whole entry; entries with nothing comparable are left out.
[[nodiscard]] std::vector<RankedEntry> rank_catalog_towers(const ArchitectureProfile& tower,
                                                           const std::vector<io::CatalogEntry>& catalog,
                                                           const FamilyRegistry& registry);

}  // namespace lineage::stages
