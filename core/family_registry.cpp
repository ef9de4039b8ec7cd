#include "core/family_registry.hpp"

#include <functional>
#include <set>

#include "core/errors.hpp"

namespace lineage {

void FamilyRegistry::add(FamilySpec spec) {
  const auto id = spec.id;
  const auto file = spec.file;
  if (!specs_.emplace(id, std::move(spec)).second) {
    throw ConfigError(file, "family '" + id + "' is defined twice");
  }
}

void FamilyRegistry::validate() const {
  std::function<void(const FamilySpec&, std::set<std::string>&)> walk = [&](const FamilySpec& f,
                                                                            std::set<std::string>& stack) {
    if (!stack.insert(f.id).second) throw ConfigError(f.file, "mount cycle through '" + f.id + "'");
    for (const auto& m : f.mounts) {
      const auto* sub = find(m.family);
      if (!sub) throw ConfigError(m.where, "mounts unknown family '" + m.family + "'");
      walk(*sub, stack);
    }
    stack.erase(f.id);
  };
  for (const auto& [id, f] : specs_) {
    std::set<std::string> stack;
    walk(f, stack);
  }
}

const FamilySpec* FamilyRegistry::find(std::string_view id) const {
  const auto it = specs_.find(id);
  return it == specs_.end() ? nullptr : &it->second;
}

const FamilySpec& FamilyRegistry::at(std::string_view id) const {
  if (const auto* f = find(id)) return *f;
  std::string known;
  for (const auto& [k, v] : specs_) known += (known.empty() ? "" : ", ") + k;
  throw ConfigError("--family", "unknown family '" + std::string(id) + "' (known: " + known + ")");
}

}  // namespace lineage
