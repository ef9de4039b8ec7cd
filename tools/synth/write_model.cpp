#include "tools/synth/write_model.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/dtype_decode.hpp"
#include "io/safetensors_writer.hpp"
#include "tools/synth/byte_bpe_tokenizer.hpp"

namespace lineage::tools {
namespace {

std::string shard_name(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
  return buf;
}

void write_json(const std::filesystem::path& p, const nlohmann::json& j) { io::write_text_file(p, j.dump(2) + "\n"); }

// Removes the temporary folder unless the write completed (then it has been renamed away).
struct TempFolder {
  std::filesystem::path path;
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

void write_model(const SynthModel& model, const std::filesystem::path& dir) {
  const auto target = std::filesystem::absolute(dir).lexically_normal();
  const auto parent = target.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  TempFolder temp{parent / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))};
  std::filesystem::remove_all(temp.path, ec);
  std::filesystem::create_directory(temp.path, ec);
  if (ec) throw InputError(temp.path.string(), "cannot create folder: " + ec.message());

  // BF16 bytes for every tensor, then greedy split into shards of about equal size in order.
  std::vector<std::vector<std::byte>> bytes(model.tensors.size());
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < model.tensors.size(); ++t) {
    const auto& values = model.tensors[t].values;
    bytes[t].resize(values.size() * 2);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t b = io::float_to_bf16(values[i]);
      bytes[t][2 * i] = static_cast<std::byte>(b & 0xFF);
      bytes[t][2 * i + 1] = static_cast<std::byte>(b >> 8);
    }
    total += bytes[t].size();
  }
  const int n = std::max(1, std::min<int>(model.shards, static_cast<int>(model.tensors.size())));
  std::vector<std::vector<io::TensorToWrite>> shards(static_cast<std::size_t>(n));
  std::uint64_t running = 0;
  for (std::size_t t = 0; t < model.tensors.size(); ++t) {
    auto s = static_cast<std::int64_t>(total == 0 ? 0 : running * static_cast<std::uint64_t>(n) / total);
    // Keep every shard non-empty: the last tensors fill the remaining shards.
    const auto remaining = static_cast<std::int64_t>(model.tensors.size() - t);
    s = std::clamp<std::int64_t>(std::max<std::int64_t>(s, n - remaining), 0, n - 1);
    const auto& st = model.tensors[t];
    shards[static_cast<std::size_t>(s)].push_back({st.spec.name, Dtype::BF16, st.spec.shape, bytes[t]});
    running += bytes[t].size();
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (int i = 0; i < n; ++i) {
    const auto name = shard_name(i + 1, n);
    io::write_safetensors(temp.path / name, shards[static_cast<std::size_t>(i)], {{"format", "pt"}});
    for (const auto& t : shards[static_cast<std::size_t>(i)]) weight_map[t.name] = name;
  }
  write_json(temp.path / io::kIndexFileName, {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  write_json(temp.path / "config.json", model.config);
  write_json(temp.path / "tokenizer.json", tokenizer_json(model.tokenizer));
  write_json(temp.path / "tokenizer_config.json", tokenizer_config_json(model.tokenizer));
  write_json(temp.path / "provenance.json", model.provenance);

  std::filesystem::remove_all(target, ec);
  std::filesystem::rename(temp.path, target, ec);
  if (ec) throw InputError(target.string(), "cannot move the finished model into place: " + ec.message());
}

}  // namespace lineage::tools
