#include "support/files.hpp"

#include <fstream>
#include <iterator>
#include <memory>

#include "core/dtype.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/dtype_decode.hpp"
#include "io/safetensors_file.hpp"

namespace lineage::testing {

void write_bytes(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

SecretBesideModel write_secret_beside_model(const std::filesystem::path& dir) {
  SecretBesideModel out{dir / "secrets.txt", dir / "model"};
  write_bytes(out.secret, std::string(kSecret) + "\npassword=hunter2\n");
  std::filesystem::create_directories(out.model);
  return out;
}

std::filesystem::path write_hf_cache_snapshot(const std::filesystem::path& dir) {
  const auto repo = dir / "hub" / "models--org--name";
  const auto snap = repo / "snapshots" / "0123abcd";
  std::filesystem::create_directories(repo / "blobs");
  std::filesystem::create_directories(snap);
  write_bytes(repo / "blobs" / "aaa", R"({"model_type": "llama", "num_hidden_layers": 2})");
  write_raw_safetensors(repo / "blobs" / "bbb", R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8);
  std::filesystem::create_symlink("../../blobs/aaa", snap / "config.json");
  return snap;
}

void link_config_to_other_cache_repo(const std::filesystem::path& dir, const std::filesystem::path& snapshot) {
  const auto other = dir / "hub" / "models--evil--x" / "blobs";
  std::filesystem::create_directories(other);
  write_bytes(other / "ccc", "{}");
  std::filesystem::remove(snapshot / "config.json");
  std::filesystem::create_symlink("../../../models--evil--x/blobs/ccc", snapshot / "config.json");
}

void write_raw_safetensors(const std::filesystem::path& p, const std::string& json, std::size_t data_bytes) {
  std::string s(8, '\0');
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  s += json;
  s.append(data_bytes, '\0');
  write_bytes(p, s);
}

std::map<std::string, std::vector<float>> read_checkpoint_values(const std::filesystem::path& dir) {
  const auto listing = io::list_checkpoint(dir, false);
  std::map<std::string, std::unique_ptr<io::SafetensorsFile>> files;
  std::map<std::string, std::vector<float>> out;
  for (const auto& t : listing.tensors) {
    auto& f = files[t.file];
    if (!f) f = std::make_unique<io::SafetensorsFile>(dir / t.file.str());
    const auto bytes = f->range(t.data_begin, t.data_end);
    std::vector<float> v(bytes.size() / dtype_size(*t.dtype));
    io::decode_to_float(*t.dtype, bytes, v);
    out[t.name] = std::move(v);
  }
  return out;
}

}  // namespace lineage::testing
