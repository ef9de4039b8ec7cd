#include "stages/architecture/catalog_ranking.hpp"

#include <algorithm>

namespace lineage::stages {
namespace {

void sort_ranking(std::vector<RankedEntry>& out) {
  // Most keys equal first; the share of comparable keys breaks ties (an entry known on more
  // keys that still matches them is the stronger candidate), then the name for a stable order.
  std::stable_sort(out.begin(), out.end(), [](const RankedEntry& a, const RankedEntry& b) {
    if (a.geometry.matches != b.geometry.matches) return a.geometry.matches > b.geometry.matches;
    if (a.geometry.score() != b.geometry.score()) return a.geometry.score() > b.geometry.score();
    if (a.entry->model != b.entry->model) return a.entry->model < b.entry->model;
    return a.tower < b.tower;
  });
}

RankedEntry ranked(const ArchitectureProfile& suspect, const io::CatalogEntry& e, std::string tower,
                   ArchitectureProfile p) {
  mark_unconfirmed(p, e.unconfirmed);
  auto g = compare_geometry(suspect, p);
  auto c = compare_core(suspect, p);
  return {&e, std::move(tower), std::move(p), std::move(g), c};
}

}  // namespace

std::vector<RankedEntry> rank_catalog(const ArchitectureProfile& suspect, const std::vector<io::CatalogEntry>& catalog,
                                      const FamilyRegistry& registry) {
  std::vector<RankedEntry> out;
  out.reserve(catalog.size());
  for (const auto& e : catalog)
    out.push_back(ranked(suspect, e, "", profile_architecture(e.config, registry, e.model)));
  sort_ranking(out);
  return out;
}

std::vector<RankedEntry> rank_catalog_towers(const ArchitectureProfile& tower,
                                             const std::vector<io::CatalogEntry>& catalog,
                                             const FamilyRegistry& registry) {
  std::vector<RankedEntry> out;
  for (const auto& e : catalog) {
    if (tower.component == Component::text) {
      out.push_back(ranked(tower, e, "", profile_architecture(e.config, registry, e.model)));
    }
    for (auto& t : profile_towers(e.config, registry, e.model)) {
      if (t.component != tower.component) continue;
      auto key = t.config_key;
      out.push_back(ranked(tower, e, std::move(key), std::move(t)));
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const RankedEntry& r) { return r.geometry.comparable == 0; }),
            out.end());
  sort_ranking(out);
  return out;
}

}  // namespace lineage::stages
