#pragma once
/// @file registry_expand.hpp
/// Binds the engine's family expansion (stages::expand_family) to a registry, keeping only the
/// tensors a checkpoint of that family always has: optional entries (e.g. attention biases a
/// family may or may not carry) are left out so the written model is the plain form.

#include "core/family_registry.hpp"
#include "tools/synth/synth_model.hpp"

namespace lineage::tools {

/// The returned function keeps a reference to `registry`, which must outlive it.
[[nodiscard]] ExpandFn make_expand(const FamilyRegistry& registry);

}  // namespace lineage::tools
