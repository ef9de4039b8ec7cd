#pragma once
/// @file family_file.hpp
/// Reads family definition files (families/*.yaml) and the quantisation companion rules
/// (families/_quantization.yaml). Unknown keys, unknown role/component/projection/kind names,
/// bad templates and bad expressions are ConfigErrors with the file and key path.

#include <filesystem>
#include <vector>

#include "core/family_spec.hpp"

namespace lineage::io {

[[nodiscard]] lineage::FamilySpec read_family_file(const std::filesystem::path& path);
[[nodiscard]] std::vector<lineage::CompanionRule> read_companion_rules(const std::filesystem::path& path);

}  // namespace lineage::io

#include "core/family_registry.hpp"

namespace lineage::io {

/// Loads every `*.yaml` in `dir` as a family, except `_quantization.yaml` (companion rules) and
/// other files starting with '_'; validates cross references.
[[nodiscard]] FamilyRegistry load_family_registry(const std::filesystem::path& dir);

}  // namespace lineage::io
