#include "stages/align/byte_identity.hpp"

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_set>

#include "core/errors.hpp"
#include "core/tensor_key.hpp"
#include "io/dtype_decode.hpp"
#include "io/json_text.hpp"
#include "io/safetensors_file.hpp"
#include "stages/pair/block_scale_companions.hpp"

namespace lineage::stages {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::uint64_t raw_element(const std::byte* p, std::size_t size) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, size);  // little-endian hosts only, as everywhere in io/
  return v;
}

std::string hex(std::uint64_t x) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, x >>= 4) s[static_cast<std::size_t>(i)] = digits[x & 0xf];
  return s;
}

std::uint64_t parse_hex(const std::string& s, const std::string& where) {
  std::uint64_t x = 0;
  if (s.empty() || s.size() > 16) throw StoreError(where + ": bad hash '" + s + "'");
  for (char c : s) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) throw StoreError(where + ": bad hash '" + s + "'");
    x = (x << 4) | static_cast<std::uint64_t>(d);
  }
  return x;
}

}  // namespace

IdentityBlocks identity_blocks(std::uint64_t bytes) {
  const std::uint64_t block = std::min<std::uint64_t>(kIdentityBlockBytes, (bytes / (kIdentityBlocks * 8)) & ~7ULL);
  if (block < kIdentityMinBlockBytes) return {bytes, {0}};
  IdentityBlocks b{block, {}};
  b.offsets.reserve(kIdentityBlocks);
  const std::uint64_t span = bytes - block;
  for (std::size_t k = 0; k < kIdentityBlocks; ++k) b.offsets.push_back((span * k / (kIdentityBlocks - 1)) & ~7ULL);
  return b;
}

TensorSample sample_tensor(Dtype dtype, std::span<const std::byte> bytes) {
  const auto blocks = identity_blocks(bytes.size());
  std::vector<std::byte> sampled;
  sampled.reserve(blocks.offsets.size() * blocks.block_bytes);
  for (const auto off : blocks.offsets) {
    const auto block = bytes.subspan(off, blocks.block_bytes);
    sampled.insert(sampled.end(), block.begin(), block.end());
  }
  return sample_of_blocks(dtype, bytes.size(), sampled);
}

TensorSample sample_of_blocks(Dtype dtype, std::uint64_t tensor_bytes, std::span<const std::byte> sampled,
                              const BlockScales* scales) {
  TensorSample s;
  const std::size_t size = dtype_size(dtype);
  const auto blocks = identity_blocks(tensor_bytes);
  if (sampled.size() != blocks.offsets.size() * blocks.block_bytes) {
    throw InternalError("sample_of_blocks: " + std::to_string(sampled.size()) + " bytes for the " +
                        std::to_string(blocks.offsets.size()) + " blocks of " + std::to_string(blocks.block_bytes) +
                        " bytes of a tensor of " + std::to_string(tensor_bytes));
  }
  s.whole = blocks.whole(tensor_bytes);
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset_withSeed(st, tensor_bytes);
  std::unordered_set<std::uint64_t> distinct;
  // The SD from sums shifted by the first block's mean, in four double lanes: no division per
  // element (Welford's was half of the scan's CPU), and the shift keeps the cancellation small.
  constexpr std::size_t kLanes = 4;
  double count_of[kLanes] = {0, 0, 0, 0}, sum[kLanes] = {0, 0, 0, 0}, squares[kLanes] = {0, 0, 0, 0};
  std::optional<double> shift;
  std::vector<float> decoded;
  for (std::size_t k = 0; k < blocks.offsets.size(); ++k) {
    const auto block = sampled.subspan(k * blocks.block_bytes, blocks.block_bytes);
    XXH3_64bits_update(st, block.data(), block.size());
    s.sampled_bytes += block.size();
    const std::size_t count = block.size() / size;
    for (std::size_t i = 0; i < count && distinct.size() < kIdentityMinDistinct; ++i)
      distinct.insert(raw_element(block.data() + i * size, size));
    if (!dtype_is_float(dtype)) continue;
    decoded.resize(count);
    io::decode_to_float(dtype, block.first(count * size), decoded);
    if (scales != nullptr) apply_block_scales(*scales, blocks.offsets[k] / size, 1, decoded.data(), count);
    if (!shift) {
      // The mean of the first block with finite values: close to the sample's mean, whatever
      // one value is (a first value far out would make the sums cancel).
      double first_sum = 0, first_count = 0;
      for (float f : decoded) {
        if (std::isfinite(f)) first_sum += f, first_count += 1;
      }
      if (first_count == 0) continue;
      shift = first_sum / first_count;
    }
    const double c = *shift;
    // Four elements a step in vectors, lane i % 4 as below: the same operations in the same order.
    const std::size_t steps = count / kLanes;
    using d4 = double __attribute__((vector_size(32)));
    using l4 = std::int64_t __attribute__((vector_size(32)));
    using f4 = float __attribute__((vector_size(16)));
    using i4 = std::int32_t __attribute__((vector_size(16)));
    d4 v_count, v_sum, v_squares;
    std::memcpy(&v_count, count_of, sizeof v_count);
    std::memcpy(&v_sum, sum, sizeof v_sum);
    std::memcpy(&v_squares, squares, sizeof v_squares);
    const i4 exponent = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
    const d4 one = {1.0, 1.0, 1.0, 1.0}, shift4 = {c, c, c, c};
    for (std::size_t v = 0; v < steps; ++v) {
      f4 x;
      std::memcpy(&x, decoded.data() + v * kLanes, sizeof x);
      const l4 finite = __builtin_convertvector((__builtin_bit_cast(i4, x) & exponent) != exponent, l4);
      const d4 d = __builtin_bit_cast(d4, __builtin_bit_cast(l4, __builtin_convertvector(x, d4) - shift4) & finite);
      v_count += __builtin_bit_cast(d4, __builtin_bit_cast(l4, one) & finite);
      v_sum += d;
      v_squares += d * d;
    }
    std::memcpy(count_of, &v_count, sizeof v_count);
    std::memcpy(sum, &v_sum, sizeof v_sum);
    std::memcpy(squares, &v_squares, sizeof v_squares);
    for (std::size_t i = steps * kLanes; i < count; ++i) {
      const float f = decoded[i];
      const bool finite = std::isfinite(f);
      const double d = finite ? f - c : 0.0;
      count_of[i % kLanes] += finite ? 1.0 : 0.0;
      sum[i % kLanes] += d;
      squares[i % kLanes] += d * d;
    }
  }
  const double n = (count_of[0] + count_of[1]) + (count_of[2] + count_of[3]);
  const double s1 = (sum[0] + sum[1]) + (sum[2] + sum[3]);
  const double m2 =
      std::max(0.0, ((squares[0] + squares[1]) + (squares[2] + squares[3])) - (n > 0 ? s1 * s1 / n : 0.0));
  // The digest is seeded with the size, so the whole-tensor case is not XXH3 of the bytes:
  // whole_tensor_hash gives that when tier 2 needs it.
  s.sampled_digest = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  s.nontrivial = tensor_bytes / size >= kIdentityMinElements && distinct.size() >= kIdentityMinDistinct;
  s.sampled_std = dtype_is_float(dtype) && n > 0 ? std::sqrt(m2 / n) : kNaN;
  s.std_elements = static_cast<std::uint64_t>(n);
  return s;
}

std::uint64_t whole_tensor_hash(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

IdentityMatches match_identical(const std::vector<ScannedTensor>& a, const std::vector<ScannedTensor>& b,
                                const std::function<std::uint64_t(int side, std::size_t index)>& full_hash) {
  using Tier1 = std::tuple<std::uint64_t, Dtype, std::uint64_t>;
  std::map<Tier1, std::vector<std::size_t>> by_sample;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].sample.nontrivial) by_sample[{a[i].bytes, a[i].dtype, a[i].sample.sampled_digest}].push_back(i);
  }
  IdentityMatches out;
  for (std::size_t j = 0; j < b.size(); ++j) {
    if (!b[j].sample.nontrivial) continue;
    const auto it = by_sample.find({b[j].bytes, b[j].dtype, b[j].sample.sampled_digest});
    if (it == by_sample.end()) continue;
    const std::uint64_t hb = full_hash(1, j);
    for (const auto i : it->second) {
      ++out.candidates;
      const std::uint64_t ha = full_hash(0, i);
      if (ha == hb) out.identical.push_back({i, j, ha});
    }
  }
  return out;
}

namespace {

/// One tensor of the scan as /tensor_scan/json lists it.
nlohmann::json scanned_tensor_json(const ScannedTensor& t) {
  return {t.name,
          t.key,
          std::string(to_string(t.dtype)),
          t.bytes,
          std::isfinite(t.sample.sampled_std) ? nlohmann::json(t.sample.sampled_std) : nlohmann::json(),
          t.sample.std_elements,
          t.sample.nontrivial};
}

/// to_json() with each model's tensor list empty.
nlohmann::json json_without_tensors(const TensorScan& scan) {
  nlohmann::json j;
  j["method"] = {{"blocks", kIdentityBlocks},
                 {"block_bytes", kIdentityBlockBytes},
                 {"min_block_bytes", kIdentityMinBlockBytes},
                 {"min_elements", kIdentityMinElements},
                 {"min_distinct", kIdentityMinDistinct}};
  j["models"] = nlohmann::json::array();
  for (std::size_t m = 0; m < scan.models.size(); ++m) j["models"].push_back({{"tensors", nlohmann::json::array()}});
  j["pairs"] = nlohmann::json::array();
  for (const auto& p : scan.pairs) {
    nlohmann::json ident = nlohmann::json::array();
    for (const auto& t : p.identical) ident.push_back({t.tensor_a, t.tensor_b, t.key_a, t.key_b, t.bytes, hex(t.hash)});
    j["pairs"].push_back(
        {{"model_a", p.model_a}, {"model_b", p.model_b}, {"candidates", p.candidates}, {"identical", ident}});
  }
  j["cost"] = {{"sampled_bytes", scan.cost.sampled_bytes},
               {"full_bytes_read", scan.cost.full_bytes_read},
               {"full_hashes_reused", scan.cost.full_hashes_reused},
               {"full_hashes_read", scan.cost.full_hashes_read},
               {"pass_bytes", scan.cost.pass_bytes},
               {"seconds", scan.cost.seconds}};
  return j;
}

}  // namespace

nlohmann::json TensorScan::to_json() const {
  auto j = json_without_tensors(*this);
  for (std::size_t m = 0; m < models.size(); ++m) {
    auto& tensors = j["models"][m]["tensors"];
    for (const auto& t : models[m]) tensors.push_back(scanned_tensor_json(t));
  }
  return j;
}

io::SpilledText TensorScan::to_json_text() const {
  const auto held = json_without_tensors(*this);
  io::SpilledText text;
  io::append_json_object(text, held, {{"models", [&](io::SpilledText& out) {
                                         out += '[';
                                         for (std::size_t m = 0; m < models.size(); ++m) {
                                           out += m ? ",{\"tensors\":[" : "{\"tensors\":[";
                                           for (std::size_t i = 0; i < models[m].size(); ++i) {
                                             if (i) out += ',';
                                             out += scanned_tensor_json(models[m][i]).dump();
                                           }
                                           out += "]}";
                                         }
                                         out += ']';
                                       }}});
  return text;
}

TensorScan TensorScan::from_json(const nlohmann::json& j, const std::string& where) {
  TensorScan s;
  try {
    for (const auto& m : j.at("models")) {
      auto& tensors = s.models.emplace_back();
      for (const auto& t : m.at("tensors")) {
        ScannedTensor x;
        x.name = t.at(0).get<std::string>();
        x.key = t.at(1).get<std::string>();
        const auto dtype = parse_dtype(t.at(2).get<std::string>());
        if (!dtype) throw StoreError(where + ": unknown dtype in tensor " + x.name);
        x.dtype = *dtype;
        x.bytes = t.at(3).get<std::uint64_t>();
        x.sample.sampled_std = t.at(4).is_null() ? kNaN : t.at(4).get<double>();
        x.sample.std_elements = t.at(5).get<std::uint64_t>();
        x.sample.nontrivial = t.at(6).get<bool>();
        tensors.push_back(std::move(x));
      }
    }
    for (const auto& p : j.at("pairs")) {
      ScanPair q;
      q.model_a = p.at("model_a").get<int>();
      q.model_b = p.at("model_b").get<int>();
      q.candidates = p.at("candidates").get<std::size_t>();
      for (const auto& t : p.at("identical")) {
        q.identical.push_back({t.at(0).get<std::string>(), t.at(1).get<std::string>(), t.at(2).get<std::string>(),
                               t.at(3).get<std::string>(), t.at(4).get<std::uint64_t>(),
                               parse_hex(t.at(5).get<std::string>(), where)});
      }
      s.pairs.push_back(std::move(q));
    }
    const auto& c = j.at("cost");
    s.cost.sampled_bytes = c.at("sampled_bytes").get<std::uint64_t>();
    s.cost.full_bytes_read = c.at("full_bytes_read").get<std::uint64_t>();
    s.cost.full_hashes_reused = c.at("full_hashes_reused").get<std::size_t>();
    s.cost.full_hashes_read = c.at("full_hashes_read").get<std::size_t>();
    s.cost.pass_bytes = c.at("pass_bytes").get<std::uint64_t>();
    s.cost.seconds = c.at("seconds").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(where + ": the tensor scan does not read: " + e.what());
  }
  return s;
}

WholeTensorHashes::WholeTensorHashes(const std::vector<RunModel>& models) {
  for (const auto& m : models) {
    hashes_.emplace_back(m.inventory.tensors.size(), 0);
    known_.emplace_back(m.inventory.tensors.size(), false);
  }
}

void WholeTensorHashes::set(std::size_t model, std::size_t tensor, std::uint64_t hash) {
  if (model >= hashes_.size() || tensor >= hashes_[model].size()) {
    throw InternalError("whole tensor hashes: no tensor " + std::to_string(tensor) + " in model " +
                        std::to_string(model));
  }
  hashes_[model][tensor] = hash;
  if (!known_[model][tensor]) ++known_count_;
  known_[model][tensor] = true;
}

std::optional<std::uint64_t> WholeTensorHashes::find(std::size_t model, std::size_t tensor) const noexcept {
  if (model >= hashes_.size() || tensor >= hashes_[model].size() || !known_[model][tensor]) return std::nullopt;
  return hashes_[model][tensor];
}

WholeTensorHashes whole_tensor_hashes(const std::vector<RunModel>& models, std::span<const ComparisonUnit> units,
                                      std::span<const std::uint64_t> unit_ids, std::span<const std::uint64_t> hash_a,
                                      std::span<const std::uint64_t> hash_b, std::uint64_t row_block_bytes) {
  if (hash_a.size() != unit_ids.size() || hash_b.size() != unit_ids.size()) {
    throw InternalError("whole tensor hashes: " + std::to_string(unit_ids.size()) + " units but " +
                        std::to_string(hash_a.size()) + " and " + std::to_string(hash_b.size()) + " hashes");
  }
  // Each model's tensors by name (views of the inventory's names, sorted), to find a view's tensor
  // and tell a view of the whole tensor from a slice by its byte size.
  std::vector<std::vector<std::pair<std::string_view, std::size_t>>> by_name(models.size());
  for (std::size_t m = 0; m < models.size(); ++m) {
    const auto& tensors = models[m].inventory.tensors;
    by_name[m].reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) by_name[m].emplace_back(tensors[i].name, i);
    std::sort(by_name[m].begin(), by_name[m].end());
  }
  // A block-scaled weight's unit hash covers its factors too (execute_unit's side_hash), not its stored
  // bytes alone: such tensors are hashed by the scan.
  WholeTensorHashes out(models);
  for (std::size_t r = 0; r < unit_ids.size(); ++r) {
    if (unit_ids[r] >= units.size()) continue;
    const auto& u = units[unit_ids[r]];
    if (u.sampled || row_block_count(u, row_block_bytes) > 1) continue;
    for (const auto& [view, hash] : {std::pair{&u.a, hash_a[r]}, std::pair{&u.b, hash_b[r]}}) {
      if (view->model < 0 || static_cast<std::size_t>(view->model) >= models.size()) continue;
      const auto m = static_cast<std::size_t>(view->model);
      const std::string_view name = view->tensor.str();
      const auto it = std::lower_bound(by_name[m].begin(), by_name[m].end(), std::pair{name, std::size_t{0}});
      if (it == by_name[m].end() || it->first != name ||
          (is_block_scalable(view->dtype) && block_scale_companions(models[m]).of(name) != nullptr))
        continue;
      const auto& t = models[m].inventory.tensors[it->second];
      if (t.data_end <= t.data_begin || view->offset != 0 || !view->contiguous() || view->rows != u.rows ||
          view->cols != u.cols || u.rows * u.cols * dtype_size(view->dtype) != t.data_end - t.data_begin)
        continue;
      out.set(m, it->second, hash);
    }
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

/// The tensors the scan covers, in model then listing order (the same on every rank).
std::vector<std::pair<std::size_t, const ClassifiedTensor*>> scanned_tensors(const std::vector<RunModel>& models) {
  std::vector<std::pair<std::size_t, const ClassifiedTensor*>> out;
  for (std::size_t m = 0; m < models.size(); ++m) {
    for (const auto& t : models[m].inventory.tensors) {
      if (t.dtype && t.data_end > t.data_begin && !t.file.str().empty()) out.emplace_back(m, &t);
    }
  }
  return out;
}

/// One open file per shard.
class ShardFiles {
 public:
  explicit ShardFiles(const std::vector<RunModel>& models) : models_(models) {}
  io::SafetensorsFile& file(std::size_t m, const ClassifiedTensor& t) {
    auto& f = files_[{m, t.file}];
    if (!f) f = std::make_unique<io::SafetensorsFile>(fs::path(models_[m].dir) / t.file.str());
    return *f;
  }
  /// The factors of a block-scaled weight of model m, copied by pread (a few kilobytes).
  BlockScales block_scales(std::size_t m, const BlockScaleSource& source) {
    return read_block_scales(source, models_[m].inventory, models_[m].dir,
                             [&](const ClassifiedTensor& t, std::span<std::byte> out) {
                               file(m, t).read_into(t.data_begin, t.data_end, out.data());
                             });
  }
  /// The tensor's bytes through the file's mapping (tier 2 hashes whole tensors).
  std::pair<io::SafetensorsFile*, std::span<const std::byte>> bytes(std::size_t m, const ClassifiedTensor& t) {
    auto& f = file(m, t);
    return {&f, f.range(t.data_begin, t.data_end)};
  }

 private:
  const std::vector<RunModel>& models_;
  std::map<std::pair<std::size_t, std::string>, std::unique_ptr<io::SafetensorsFile>> files_;
};

/// A packed sample: tensor index, digest, sampled bytes, whole, nontrivial, SD, SD's values.
struct PackedSample {
  std::uint64_t index = 0;
  std::uint64_t digest = 0;
  std::uint64_t sampled_bytes = 0;
  std::uint64_t flags = 0;  ///< 1: whole, 2: nontrivial
  double std = 0;
  std::uint64_t std_elements = 0;
};

}  // namespace

std::vector<std::byte> sample_share(const std::vector<RunModel>& models, int rank, int ranks) {
  const auto start = std::chrono::steady_clock::now();
  const auto tensors = scanned_tensors(models);
  ShardFiles files(models);
  std::vector<PackedSample> mine;
  std::vector<std::byte> sampled;
  for (std::size_t i = static_cast<std::size_t>(rank); i < tensors.size(); i += static_cast<std::size_t>(ranks)) {
    const auto& [m, t] = tensors[i];
    // The blocks copied by pread: through the mapping each 4 KiB block was a page fault (about
    // 8 µs on some virtual machines, docs/benchmarks.md) and its pages were released after.
    const auto& file = files.file(m, *t);
    const auto tensor_bytes = t->data_end - t->data_begin;
    const auto blocks = identity_blocks(tensor_bytes);
    sampled.resize(blocks.offsets.size() * blocks.block_bytes);
    for (std::size_t k = 0; k < blocks.offsets.size(); ++k) {
      const auto begin = t->data_begin + blocks.offsets[k];
      file.read_into(begin, begin + blocks.block_bytes, sampled.data() + k * blocks.block_bytes);
    }
    // A block-scaled weight's SD is of its values: its factors read beside it (a few kilobytes).
    std::optional<BlockScales> scales;
    if (is_block_scalable(*t->dtype)) {
      if (const auto* source = block_scale_companions(models[m]).of(t->name)) scales = files.block_scales(m, *source);
    }
    const auto s = sample_of_blocks(*t->dtype, tensor_bytes, sampled, scales ? &*scales : nullptr);
    mine.push_back({i, s.sampled_digest, s.sampled_bytes, (s.whole ? 1ULL : 0ULL) | (s.nontrivial ? 2ULL : 0ULL),
                    s.sampled_std, s.std_elements});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<std::byte> out(sizeof(double) + mine.size() * sizeof(PackedSample));
  std::memcpy(out.data(), &seconds, sizeof(double));
  if (!mine.empty()) std::memcpy(out.data() + sizeof(double), mine.data(), mine.size() * sizeof(PackedSample));
  return out;
}

SampledModels merge_shares(const std::vector<RunModel>& models, const std::vector<std::vector<std::byte>>& shares) {
  const auto tensors = scanned_tensors(models);
  std::vector<std::optional<TensorSample>> samples(tensors.size());
  SampledModels out;
  for (const auto& share : shares) {
    if (share.size() < sizeof(double) || (share.size() - sizeof(double)) % sizeof(PackedSample) != 0)
      throw InternalError("tensor scan: a rank's share has " + std::to_string(share.size()) + " bytes");
    double seconds = 0;
    std::memcpy(&seconds, share.data(), sizeof(double));
    out.seconds = std::max(out.seconds, seconds);
    for (std::size_t off = sizeof(double); off < share.size(); off += sizeof(PackedSample)) {
      PackedSample p;
      std::memcpy(&p, share.data() + off, sizeof(PackedSample));
      if (p.index >= samples.size() || samples[p.index])
        throw InternalError("tensor scan: a share names tensor " + std::to_string(p.index) + " twice or out of range");
      TensorSample s;
      s.sampled_digest = p.digest;
      s.sampled_bytes = p.sampled_bytes;
      s.whole = (p.flags & 1) != 0;
      s.nontrivial = (p.flags & 2) != 0;
      s.sampled_std = p.std;
      s.std_elements = p.std_elements;
      samples[p.index] = s;
    }
  }
  out.models.resize(models.size());
  // Each model's list made at its size: grown by doubling, it held up to twice its entries, and the
  // old and new buffers at once, at the run's peak.
  {
    std::vector<std::size_t> count(models.size(), 0);
    for (const auto& [m, t] : tensors) ++count[m];
    for (std::size_t m = 0; m < models.size(); ++m) out.models[m].reserve(count[m]);
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!samples[i]) throw InternalError("tensor scan: no rank sampled tensor " + std::to_string(i));
    const auto& [m, t] = tensors[i];
    out.sampled_bytes += samples[i]->sampled_bytes;
    out.models[m].push_back({t->name, to_string(t->key), *t->dtype, t->data_end - t->data_begin, *samples[i]});
  }
  return out;
}

TensorScan scan_tensors(const std::vector<RunModel>& models, SampledModels sampled, const WholeTensorHashes& known,
                        std::uint64_t pass_bytes) {
  const auto start = std::chrono::steady_clock::now();
  TensorScan scan;
  scan.cost.pass_bytes = pass_bytes;
  scan.cost.sampled_bytes = sampled.sampled_bytes;
  scan.models = std::move(sampled.models);
  ShardFiles files(models);
  // Per model, which inventory tensor each scanned entry is (scanned_tensors' order).
  std::vector<std::vector<const ClassifiedTensor*>> source(models.size());
  for (const auto& [m, t] : scanned_tensors(models)) source[m].push_back(t);
  std::map<std::pair<std::size_t, std::size_t>, std::uint64_t> full;
  auto full_hash = [&](std::size_t m, std::size_t i) {
    if (const auto it = full.find({m, i}); it != full.end()) return it->second;
    const auto& t = *source[m][i];  // an element of models[m].inventory.tensors (scanned_tensors)
    std::uint64_t h = 0;
    if (const auto k = known.find(m, static_cast<std::size_t>(&t - models[m].inventory.tensors.data()))) {
      h = *k;
      ++scan.cost.full_hashes_reused;
    } else {
      const auto [file, bytes] = files.bytes(m, t);
      if (scan.models[m][i].sample.whole) {
        ++scan.cost.full_hashes_reused;  // tier 1 read the whole tensor already
      } else {
        scan.cost.full_bytes_read += bytes.size();
        ++scan.cost.full_hashes_read;
      }
      h = whole_tensor_hash(bytes);
      file->release(t.data_begin, t.data_end);
      if (const auto* grid_source =
              is_block_scalable(*t.dtype) ? block_scale_companions(models[m]).of(t.name) : nullptr) {
        // A block-scaled weight is identical when its codes and its factors are: its values.
        const auto scales = files.block_scales(m, *grid_source);
        h = fold_hashes(h, grid_rows_hash(scales, 0, scales.grid.size() / scales.grid_cols));
      }
    }
    full.emplace(std::pair{m, i}, h);
    return h;
  };
  for (std::size_t other = 1; other < models.size(); ++other) {
    const auto matches = match_identical(scan.models[0], scan.models[other],
                                         [&](int side, std::size_t i) { return full_hash(side == 0 ? 0 : other, i); });
    ScanPair p{0, static_cast<int>(other), matches.candidates, {}};
    for (const auto& m : matches.identical) {
      const auto &ta = scan.models[0][m.a], &tb = scan.models[other][m.b];
      p.identical.push_back({ta.name, tb.name, ta.key, tb.key, ta.bytes, m.hash});
    }
    scan.pairs.push_back(std::move(p));
  }
  scan.cost.seconds = sampled.seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return scan;
}

TensorScan scan_tensors(const std::vector<RunModel>& models, const WholeTensorHashes& known, std::uint64_t pass_bytes) {
  return scan_tensors(models, merge_shares(models, {sample_share(models, 0, 1)}), known, pass_bytes);
}

}  // namespace lineage::stages
