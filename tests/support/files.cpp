#include "support/files.hpp"

#include <fstream>

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

}  // namespace lineage::testing
