#pragma once
/// @file family_file.hpp
/// Reads family definition files (families/*.yaml) and the quantisation companion rules
/// (families/_quantization.yaml). Unknown keys, unknown role/component/projection/kind names,
/// bad templates and bad expressions are ConfigErrors with the file and key path.

#include <filesystem>
#include <vector>

#include "core/family_spec.hpp"
#include "core/generic_reading.hpp"

namespace lineage::io {

[[nodiscard]] lineage::FamilySpec read_family_file(const std::filesystem::path& path);
[[nodiscard]] std::vector<lineage::CompanionRule> read_companion_rules(const std::filesystem::path& path);
/// The generic decoder reading (families/_generic_decoder.yaml): placeholders, kinds, rules.
/// A bad regular expression, an unknown placeholder or role, or a capture group other than
/// {layer} / {expert} is a ConfigError with the file and key path.
[[nodiscard]] lineage::GenericReading read_generic_reading(const std::filesystem::path& path);

}  // namespace lineage::io

#include "core/family_registry.hpp"

namespace lineage::io {

/// Loads every `*.yaml` in `dir` as a family, except `_quantization.yaml` (companion rules),
/// `_generic_decoder.yaml` (the fallback reading) and other files starting with '_'; validates
/// cross references.
[[nodiscard]] FamilyRegistry load_family_registry(const std::filesystem::path& dir);

}  // namespace lineage::io
