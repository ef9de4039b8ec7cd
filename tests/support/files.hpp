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
/// The whole of file `p`.
[[nodiscard]] std::string read_bytes(const std::filesystem::path& p);
/// A raw safetensors file: 8-byte length of `json`, `json`, then `data_bytes` zero bytes.
void write_raw_safetensors(const std::filesystem::path& p, const std::string& json, std::size_t data_bytes);
/// Every tensor of a checkpoint folder, decoded to float, by stored name.
[[nodiscard]] std::map<std::string, std::vector<float>> read_checkpoint_values(const std::filesystem::path& dir);
/// Text no error message may repeat: hostile-input tests plant it in a file outside the model.
inline constexpr const char* kSecret = "TOP-SECRET-TOKEN-42";
/// DIR/secrets.txt (kSecret and a password) and beside it an empty model folder DIR/model.
struct SecretBesideModel {
  std::filesystem::path secret, model;
};
[[nodiscard]] SecretBesideModel write_secret_beside_model(const std::filesystem::path& dir);
/// A Hugging Face cache repo, DIR/hub/models--org--name: blobs/aaa (a llama config.json with 2
/// layers), blobs/bbb (safetensors, one F32 tensor "w" of 2 elements) and snapshot 0123abcd whose
/// config.json links to blobs/aaa. Returns the snapshot folder; the test links the weights.
[[nodiscard]] std::filesystem::path write_hf_cache_snapshot(const std::filesystem::path& dir);
/// Relinks the snapshot's config.json to a blob of another cache repo (DIR/hub/models--evil--x),
/// which is outside the model.
void link_config_to_other_cache_repo(const std::filesystem::path& dir, const std::filesystem::path& snapshot);
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
