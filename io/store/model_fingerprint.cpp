#include "io/store/model_fingerprint.hpp"

#include "io/safetensors_header.hpp"

namespace lineage::io {

StoredModel fingerprint_model(const std::string& label, const std::filesystem::path& dir,
                              const std::vector<std::string>& shard_files) {
  StoredModel m;
  m.label = label;
  m.path = std::filesystem::absolute(dir).lexically_normal().string();
  for (const auto& f : shard_files) {
    const auto h = read_safetensors_header(dir / f);
    m.shard_files.push_back(f);
    m.shard_sizes.push_back(h.file_size);
    m.header_hashes.push_back(h.header_hash);
  }
  return m;
}

}  // namespace lineage::io
