#pragma once
/// @file version.hpp
/// The version lineage reports (`--version`, the report's header); CMakeLists.txt's project
/// VERSION is the same number.

namespace lineage {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace lineage
