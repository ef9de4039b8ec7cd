#include "tools/synth/registry_expand.hpp"

#include <algorithm>

#include "stages/inventory/expand_family.hpp"

namespace lineage::tools {

ExpandFn make_expand(const FamilyRegistry& registry) {
  return [&registry](std::string_view family, const nlohmann::json& config, std::string_view variant) {
    auto tensors = stages::expand_family(registry, family, config, variant);
    std::erase_if(tensors, [](const stages::ExpectedTensor& t) { return t.optional; });
    return tensors;
  };
}

}  // namespace lineage::tools
