#include "support/files.hpp"

#include <fstream>
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
    if (!f) f = std::make_unique<io::SafetensorsFile>(dir / t.file);
    const auto bytes = f->range(t.data_begin, t.data_end);
    std::vector<float> v(bytes.size() / dtype_size(*t.dtype));
    io::decode_to_float(*t.dtype, bytes, v);
    out[t.name] = std::move(v);
  }
  return out;
}

}  // namespace lineage::testing
