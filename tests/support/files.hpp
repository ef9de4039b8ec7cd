#pragma once
/// @file files.hpp
/// Small helpers for tests that build (possibly broken) files by hand.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lineage::testing {

void write_bytes(const std::filesystem::path& p, std::string_view bytes);
/// A raw safetensors file: 8-byte length of `json`, `json`, then `data_bytes` zero bytes.
void write_raw_safetensors(const std::filesystem::path& p, const std::string& json, std::size_t data_bytes);
/// Every tensor of a checkpoint folder, decoded to float, by stored name.
[[nodiscard]] std::map<std::string, std::vector<float>> read_checkpoint_values(const std::filesystem::path& dir);
/// The synth style files of the source tree.
[[nodiscard]] inline std::filesystem::path test_styles_dir() {
  return std::filesystem::path(LINEAGE_SOURCE_DIR) / "tools" / "synth" / "styles";
}
/// The message of the InputError (or other exception) `fn` throws; "" if it throws nothing.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace lineage::testing
