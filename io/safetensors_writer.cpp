#include "io/safetensors_writer.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"

namespace lineage::io {

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the given order, so the header lists tensors as they are stored.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    std::uint64_t n = dtype_size(t.dtype);
    for (auto d : t.shape) n *= d;
    if (n != t.data.size()) {
      throw InternalError("write_safetensors: " + t.name + " has " + std::to_string(t.data.size()) +
                          " bytes, shape needs " + std::to_string(n));
    }
    header[t.name] = {
        {"dtype", std::string(to_string(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  const std::uint64_t len = json.size();
  AtomicFile out(path);
  out.write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(&len), 8));
  out.write(json);
  for (const auto& t : tensors) out.write(t.data);
  out.commit();
}

}  // namespace lineage::io
