#pragma once
/// @file synth_suite.hpp
/// A synthetic suite (base + every scenario, tools/synth) written once per test binary into a
/// temporary folder, for tests of the stages that consume real checkpoints.

#include <filesystem>
#include <string>

namespace lineage::testing {

/// The folder of the suite for `style` (written on first use, removed at exit); `realistic`:
/// trained-like values (`lineage synth --suite --realistic`) instead of i.i.d. ones.
const std::filesystem::path& synth_suite(const std::string& style = "qwen2_moe", bool realistic = false);

}  // namespace lineage::testing
