#pragma once
/// @file version.hpp
/// The version lineage reports (`--version`, the report's header): CMakeLists.txt's project
/// VERSION, passed in as LINEAGE_VERSION.

namespace lineage {

inline constexpr const char* kVersion = LINEAGE_VERSION;

}  // namespace lineage
