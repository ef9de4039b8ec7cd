#include "tools/synth/write_model.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/dtype_decode.hpp"
#include "io/safetensors_writer.hpp"
#include "stages/inventory/expected_listing.hpp"
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

constexpr std::uint64_t kFp8Block = 128;

/// One stored tensor's header fields and bytes (io::TensorToWrite points into them).
struct StoredTensor {
  std::string name;
  Dtype dtype = Dtype::BF16;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

/// A 2-D weight as a block-FP8 release stores it: F8_E4M3 codes of value / factor and the F32
/// factors (each 128 x 128 block's largest magnitude / 448, the largest E4M3 value; 1 for a block
/// of zeros) as `<name>_scale_inv` [ceil(rows / 128), ceil(cols / 128)].
std::vector<StoredTensor> block_fp8_tensors(const SynthTensor& t) {
  const std::uint64_t rows = t.spec.shape.at(0), cols = t.spec.shape.at(1);
  const std::uint64_t grid_rows = (rows + kFp8Block - 1) / kFp8Block, grid_cols = (cols + kFp8Block - 1) / kFp8Block;
  std::vector<float> factors(grid_rows * grid_cols, 0.0f);
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      float& f = factors[(r / kFp8Block) * grid_cols + c / kFp8Block];
      f = std::max(f, std::fabs(t.values[r * cols + c]));
    }
  }
  for (auto& f : factors) f = f > 0 ? f / 448.0f : 1.0f;
  std::vector<std::byte> codes(rows * cols);
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (std::uint64_t c = 0; c < cols; ++c) {
      const float f = factors[(r / kFp8Block) * grid_cols + c / kFp8Block];
      codes[r * cols + c] = static_cast<std::byte>(io::float_to_f8e4m3(t.values[r * cols + c] / f));
    }
  }
  std::vector<std::byte> factor_bytes(factors.size() * sizeof(float));
  std::memcpy(factor_bytes.data(), factors.data(), factor_bytes.size());  // little-endian, as the format's
  std::vector<StoredTensor> out;
  out.push_back({t.spec.name, Dtype::F8_E4M3, t.spec.shape, std::move(codes)});
  out.push_back({t.spec.name + "_scale_inv", Dtype::F32, {grid_rows, grid_cols}, std::move(factor_bytes)});
  return out;
}

}  // namespace

void write_model(const SynthModel& model, const std::filesystem::path& dir, const QuantisationReading* block_fp8) {
  const auto target = std::filesystem::absolute(dir).lexically_normal();
  const auto parent = target.parent_path();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  TempFolder temp{parent / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))};
  std::filesystem::remove_all(temp.path, ec);
  std::filesystem::create_directory(temp.path, ec);
  if (ec) throw InputError(temp.path.string(), "cannot create folder: " + ec.message());

  // The stored tensors of every model tensor (a block-FP8 weight is two: codes and factors), then
  // a greedy split into shards of about equal size in order, a weight's factors beside it.
  std::vector<std::vector<StoredTensor>> stored(model.tensors.size());
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < model.tensors.size(); ++t) {
    const auto& st = model.tensors[t];
    if (block_fp8 != nullptr && stages::converted_by_quantiser(*block_fp8, st.spec)) {
      stored[t] = block_fp8_tensors(st);
    } else {
      std::vector<std::byte> bytes(st.values.size() * 2);
      for (std::size_t i = 0; i < st.values.size(); ++i) {
        const std::uint16_t b = io::float_to_bf16(st.values[i]);
        bytes[2 * i] = static_cast<std::byte>(b & 0xFF);
        bytes[2 * i + 1] = static_cast<std::byte>(b >> 8);
      }
      stored[t].push_back({st.spec.name, Dtype::BF16, st.spec.shape, std::move(bytes)});
    }
    for (const auto& s : stored[t]) total += s.bytes.size();
  }
  const int n = std::max(1, std::min<int>(model.shards, static_cast<int>(model.tensors.size())));
  std::vector<std::vector<io::TensorToWrite>> shards(static_cast<std::size_t>(n));
  std::uint64_t running = 0;
  for (std::size_t t = 0; t < model.tensors.size(); ++t) {
    auto s = static_cast<std::int64_t>(total == 0 ? 0 : running * static_cast<std::uint64_t>(n) / total);
    // Keep every shard non-empty: the last tensors fill the remaining shards.
    const auto remaining = static_cast<std::int64_t>(model.tensors.size() - t);
    s = std::clamp<std::int64_t>(std::max<std::int64_t>(s, n - remaining), 0, n - 1);
    for (const auto& one : stored[t]) {
      running += one.bytes.size();
      shards[static_cast<std::size_t>(s)].push_back({one.name, one.dtype, one.shape, one.bytes});
    }
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (int i = 0; i < n; ++i) {
    const auto name = shard_name(i + 1, n);
    io::write_safetensors(temp.path / name, shards[static_cast<std::size_t>(i)], {{"format", "pt"}});
    for (const auto& t : shards[static_cast<std::size_t>(i)]) weight_map[t.name] = name;
  }
  write_json(temp.path / io::kIndexFileName, {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  auto config = model.config;
  if (block_fp8 != nullptr) {
    config["quantization_config"] = {{"quant_method", "fp8"},
                                     {"fmt", "e4m3"},
                                     {"activation_scheme", "dynamic"},
                                     {"weight_block_size", {kFp8Block, kFp8Block}}};
  }
  write_json(temp.path / "config.json", config);
  write_json(temp.path / "tokenizer.json", tokenizer_json(model.tokenizer));
  write_json(temp.path / "tokenizer_config.json", tokenizer_config_json(model.tokenizer));
  write_json(temp.path / "provenance.json", model.provenance);

  std::filesystem::remove_all(target, ec);
  std::filesystem::rename(temp.path, target, ec);
  if (ec) throw InputError(target.string(), "cannot move the finished model into place: " + ec.message());
}

}  // namespace lineage::tools
