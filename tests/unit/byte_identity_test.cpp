// Byte identity in tiers (stages/align/byte_identity.hpp) and what it does to a verdict
// (stages/verdict/byte_identity_evidence.hpp): sampled blocks, candidates confirmed by whole
// hashes, the pass's hashes reused, and moved layers found in a depth up-scaled synthetic model.
#include "stages/align/byte_identity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "cluster/unit_executor.hpp"
#include "core/errors.hpp"
#include "io/dtype_decode.hpp"
#include "io/family_file.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/verdict/byte_identity_evidence.hpp"
#include "support/synth_suite.hpp"

namespace lineage::stages {
namespace {

std::vector<std::byte> bf16_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto b = io::float_to_bf16(v[i]);
    std::memcpy(out.data() + 2 * i, &b, 2);
  }
  return out;
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + scale);
  return v;
}

ScannedTensor scanned(const std::string& name, const std::vector<std::byte>& bytes) {
  return {name, "text/attn_q/L0", Dtype::BF16, bytes.size(), sample_tensor(Dtype::BF16, bytes)};
}

TEST(ByteIdentity, BlocksDependOnTheSizeOnlyAndStayInside) {
  EXPECT_TRUE(identity_blocks(1000).whole(1000));
  EXPECT_TRUE(identity_blocks(8191).whole(8191));
  // Between 8 KiB and 512 KiB: an eighth of the tensor; above: 16 blocks of 4 KiB.
  const auto mid = identity_blocks(100'000);
  EXPECT_EQ(mid.offsets.size(), kIdentityBlocks);
  EXPECT_LE(mid.block_bytes * kIdentityBlocks, 100'000u / 8);
  EXPECT_GE(mid.block_bytes, kIdentityMinBlockBytes);
  const std::uint64_t size = 10'000'003;
  const auto b = identity_blocks(size);
  EXPECT_EQ(b.block_bytes, kIdentityBlockBytes);
  EXPECT_FALSE(b.whole(size));
  const auto& off = b.offsets;
  ASSERT_EQ(off.size(), kIdentityBlocks);
  EXPECT_EQ(off.front(), 0u);
  for (std::size_t k = 0; k < off.size(); ++k) {
    EXPECT_EQ(off[k] % 8, 0u);
    EXPECT_LE(off[k] + kIdentityBlockBytes, size);
    if (k > 0) {
      EXPECT_GT(off[k], off[k - 1]);
    }
  }
  EXPECT_GT(off.back(), size - 2 * kIdentityBlockBytes);
}

TEST(ByteIdentity, SampleDigestStdAndTriviality) {
  const auto v = ramp(1'000'000, 0.02f);
  const auto bytes = bf16_bytes(v);
  const auto s = sample_tensor(Dtype::BF16, bytes);
  EXPECT_TRUE(s.nontrivial);
  EXPECT_FALSE(s.whole);
  EXPECT_EQ(s.sampled_bytes, kIdentityBlocks * kIdentityBlockBytes);
  // The SD of a sine of amplitude 0.02 is 0.02 / sqrt(2).
  EXPECT_NEAR(s.sampled_std, 0.02 / std::sqrt(2.0), 0.001);
  EXPECT_EQ(sample_tensor(Dtype::BF16, bytes).sampled_digest, s.sampled_digest);
  // A byte inside the first block changes the digest; one between blocks does not (tier 2
  // exists for that).
  auto inside = bytes;
  inside[10] ^= std::byte{1};
  EXPECT_NE(sample_tensor(Dtype::BF16, inside).sampled_digest, s.sampled_digest);
  auto between = bytes;
  between[kIdentityBlockBytes + 100] ^= std::byte{1};
  EXPECT_EQ(sample_tensor(Dtype::BF16, between).sampled_digest, s.sampled_digest);
  EXPECT_NE(whole_tensor_hash(between), whole_tensor_hash(bytes));
  // Constant (a norm at 1.0) and small tensors never take part.
  EXPECT_FALSE(sample_tensor(Dtype::BF16, bf16_bytes(std::vector<float>(100'000, 1.0f))).nontrivial);
  EXPECT_FALSE(sample_tensor(Dtype::BF16, bf16_bytes(ramp(4095, 1.0f))).nontrivial);
  EXPECT_TRUE(sample_tensor(Dtype::BF16, bf16_bytes(ramp(4095, 1.0f))).whole);
  const auto mid = sample_tensor(Dtype::BF16, bf16_bytes(ramp(50'000, 1.0f)));
  EXPECT_FALSE(mid.whole);
  EXPECT_TRUE(mid.nontrivial);
  EXPECT_LE(mid.sampled_bytes, 100'000u / 8);
}

// The sampled SD against a long-double two-pass reference over the same values: whole small
// tensors (every value sampled), non-finite values left out, values far from zero (F32 around
// 100 with an SD of 0.007), where a one-pass sum of squares would cancel, an outlier first value,
// and a sampled tensor whose first block holds no finite value.
TEST(ByteIdentity, SampledStdIsThePopulationSdOfTheFiniteSampledValues) {
  const auto reference = [](const std::vector<float>& v) {
    long double n = 0, mean = 0, m2 = 0;
    for (float f : v) n += std::isfinite(f) ? 1 : 0, mean += std::isfinite(f) ? f : 0;
    mean /= n;
    for (float f : v) m2 += std::isfinite(f) ? (f - mean) * (f - mean) : 0;
    return static_cast<double>(std::sqrt(m2 / n));
  };
  const auto f32_bytes = [](const std::vector<float>& v) {
    std::vector<std::byte> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  };
  for (const double offset : {0.0, 100.0, -3.5}) {
    auto v = ramp(2000, 0.01f);  // 8,000 bytes in F32: one block, the whole tensor
    for (auto& x : v) x = static_cast<float>(x + offset);
    v[0] = std::numeric_limits<float>::quiet_NaN();  // the shift must skip it
    v[17] = std::numeric_limits<float>::infinity();
    v[1999] = -std::numeric_limits<float>::infinity();
    const auto s = sample_tensor(Dtype::F32, f32_bytes(v));
    ASSERT_TRUE(s.whole);
    EXPECT_EQ(s.std_elements, 1997u);
    EXPECT_NEAR(s.sampled_std, reference(v), 1e-9 * reference(v)) << "offset " << offset;
  }
  // A first value far from the rest (it sets the shift's block mean apart from the others' values).
  auto far = ramp(2000, 0.01f);
  far[0] = 1e4f;
  EXPECT_NEAR(sample_tensor(Dtype::F32, f32_bytes(far)).sampled_std, reference(far), 1e-9 * reference(far));
  // Sampled blocks (4 MB of F32): the first block all NaN, the shift from the second.
  auto big = ramp(1'000'000, 0.02f);
  for (auto& x : big) x += 7.0f;
  const auto blocks = identity_blocks(big.size() * 4);
  ASSERT_GT(blocks.offsets.size(), 1u);
  ASSERT_EQ(blocks.offsets[0], 0u);
  for (std::size_t i = 0; i < blocks.block_bytes / 4; ++i) big[i] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> sampled;
  for (const auto off : blocks.offsets) {
    for (std::size_t i = 0; i < blocks.block_bytes / 4; ++i) sampled.push_back(big[off / 4 + i]);
  }
  const auto s = sample_tensor(Dtype::F32, f32_bytes(big));
  EXPECT_FALSE(s.whole);
  EXPECT_EQ(s.std_elements, sampled.size() - blocks.block_bytes / 4);
  EXPECT_NEAR(s.sampled_std, reference(sampled), 1e-9 * reference(sampled));
  // No finite value at all: no SD.
  const auto none =
      sample_tensor(Dtype::F32, f32_bytes(std::vector<float>(100, std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(none.sampled_std));
  EXPECT_EQ(none.std_elements, 0u);
}

// The SD's sums, bit for bit: element i of a block goes to lane i % 4 in element order (the scan
// adds four at a time in vectors, the remainder one by one), shifted by the first finite block's
// mean; non-finite values add nothing. Whole F32 tensors of every remainder modulo 4, and BF16
// sampled blocks, with non-finite values in both parts.
TEST(ByteIdentity, SampledStdSumsEachLaneInElementOrder) {
  const auto expected_std = [](Dtype dtype, std::span<const std::byte> bytes) {
    const auto blocks = identity_blocks(bytes.size());
    double count[4] = {0, 0, 0, 0}, sum[4] = {0, 0, 0, 0}, squares[4] = {0, 0, 0, 0};
    bool shifted = false;
    double c = 0;
    for (const auto off : blocks.offsets) {
      std::vector<float> x(blocks.block_bytes / dtype_size(dtype));
      io::decode_to_float(dtype, bytes.subspan(off, x.size() * dtype_size(dtype)), x);
      if (!shifted) {
        double first_sum = 0, first_count = 0;
        for (float f : x) {
          if (std::isfinite(f)) first_sum += f, first_count += 1;
        }
        if (first_count == 0) continue;
        c = first_sum / first_count;
        shifted = true;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!std::isfinite(x[i])) continue;
        const double d = x[i] - c;
        count[i % 4] += 1.0, sum[i % 4] += d, squares[i % 4] += d * d;
      }
    }
    const double n = (count[0] + count[1]) + (count[2] + count[3]);
    const double s1 = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    const double m2 = std::max(0.0, ((squares[0] + squares[1]) + (squares[2] + squares[3])) - s1 * s1 / n);
    return std::sqrt(m2 / n);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Lane 0's values a thousand times the others' (as well): its sums then round differently from
  // another lane's, so elements in the wrong lane show.
  for (const float lane0 : {1.0f, 1000.0f}) {
    for (const std::size_t n : {1001u, 1002u, 1003u, 1004u, 7u}) {
      auto v = ramp(n, 0.03f);
      for (std::size_t i = 0; i < n; ++i) v[i] = (v[i] + 2.5f) * (i % 4 == 0 ? lane0 : 1.0f);
      v[1] = nan, v[n - 1] = -inf, v[n / 2] = inf;
      std::vector<std::byte> bytes(n * 4);
      std::memcpy(bytes.data(), v.data(), bytes.size());
      const auto s = sample_tensor(Dtype::F32, bytes);
      ASSERT_TRUE(s.whole);
      EXPECT_EQ(s.sampled_std, expected_std(Dtype::F32, bytes)) << n << " elements, lane 0 x" << lane0;
    }
  }
  auto big = ramp(3'000'001, 0.02f);
  for (std::size_t i = 0; i < big.size(); i += 977) big[i] = i % 2 ? nan : -inf;
  const auto bytes = bf16_bytes(big);
  const auto s = sample_tensor(Dtype::BF16, bytes);
  ASSERT_FALSE(s.whole);
  EXPECT_EQ(s.sampled_std, expected_std(Dtype::BF16, bytes));
  // Sixteen F32 blocks of 250 elements each (1000 bytes): a remainder of two in every block.
  auto f32 = ramp(32'000, 0.5f);
  for (std::size_t i = 0; i < f32.size(); i += 101) f32[i] = nan;
  std::vector<std::byte> f32_bytes(f32.size() * 4);
  std::memcpy(f32_bytes.data(), f32.data(), f32_bytes.size());
  ASSERT_EQ(identity_blocks(f32_bytes.size()).block_bytes, 1000u);
  EXPECT_EQ(sample_tensor(Dtype::F32, f32_bytes).sampled_std, expected_std(Dtype::F32, f32_bytes));
}

// What the scan computes from the blocks it copies equals the sample of the whole tensor, and a
// copy of the wrong size is refused.
TEST(ByteIdentity, SampleOfBlocksIsTheWholeTensorsSample) {
  for (const std::size_t n : {1000u, 50'000u, 1'000'000u}) {
    const auto bytes = bf16_bytes(ramp(n, 0.02f));
    const auto blocks = identity_blocks(bytes.size());
    std::vector<std::byte> sampled;
    for (const auto off : blocks.offsets) {
      sampled.insert(sampled.end(), bytes.begin() + static_cast<long>(off),
                     bytes.begin() + static_cast<long>(off + blocks.block_bytes));
    }
    const auto whole = sample_tensor(Dtype::BF16, bytes);
    const auto from_blocks = sample_of_blocks(Dtype::BF16, bytes.size(), sampled);
    EXPECT_EQ(from_blocks.sampled_digest, whole.sampled_digest) << n;
    EXPECT_EQ(from_blocks.sampled_bytes, whole.sampled_bytes) << n;
    EXPECT_EQ(from_blocks.whole, whole.whole) << n;
    EXPECT_EQ(from_blocks.nontrivial, whole.nontrivial) << n;
    EXPECT_EQ(from_blocks.sampled_std, whole.sampled_std) << n;
    EXPECT_EQ(from_blocks.std_elements, whole.std_elements) << n;
    sampled.pop_back();
    EXPECT_THROW((void)sample_of_blocks(Dtype::BF16, bytes.size(), sampled), InternalError) << n;
  }
}

TEST(ByteIdentity, CandidatesAreConfirmedByWholeHashesAcrossNames) {
  const auto x = bf16_bytes(ramp(100'000, 0.02f)), y = bf16_bytes(ramp(100'000, 0.03f));
  auto x_edited = x;
  x_edited[kIdentityBlockBytes + 100] ^= std::byte{1};  // same sample, other bytes
  const std::vector<ScannedTensor> a{scanned("a.x", x), scanned("a.y", y)};
  const std::vector<ScannedTensor> b{scanned("b.copy_of_y", y), scanned("b.x_edited", x_edited),
                                     scanned("b.const", bf16_bytes(std::vector<float>(100'000, 1.0f)))};
  int hashed = 0;
  const auto m = match_identical(a, b, [&](int side, std::size_t i) {
    ++hashed;
    const auto& t = side == 0 ? (i == 0 ? x : y) : (i == 0 ? y : x_edited);
    return whole_tensor_hash(t);
  });
  EXPECT_EQ(m.candidates, 2u);
  ASSERT_EQ(m.identical.size(), 1u);
  EXPECT_EQ(m.identical[0].a, 1u);
  EXPECT_EQ(m.identical[0].b, 0u);
  EXPECT_EQ(m.identical[0].hash, whole_tensor_hash(y));
  EXPECT_EQ(hashed, 4);  // only candidates reach tier 2
}

const FamilyRegistry& registry() {
  static const auto r = io::load_family_registry(std::string(LINEAGE_SOURCE_DIR) + "/families");
  return r;
}

RunPlan plan_of(const std::string& suspect, const std::string& parent) {
  RunConfig cfg;
  cfg.suspect = (testing::synth_suite() / suspect).string();
  cfg.parents = {(testing::synth_suite() / parent).string()};
  return build_run_plan(cfg, registry());
}

TEST(ByteIdentity, FindsTheLayersADepthUpscaledModelRepeats) {
  const auto plan = plan_of("depth_upscaled", "base");
  const auto scan = scan_tensors(plan.models, {}, plan.bytes());
  ASSERT_EQ(scan.pairs.size(), 1u);
  const auto e = byte_identity_of(TensorScan::from_json(scan.to_json(), "test"), 0, 1);
  // compare stores the text made a tensor at a time: the object's own dump, byte for byte.
  EXPECT_EQ(std::string_view(scan.to_json_text()), scan.to_json().dump());
  EXPECT_FALSE(scan.models.at(0).empty());
  ASSERT_TRUE(e.scanned);
  EXPECT_GT(e.renamed, 0u);
  nlohmann::json prov;
  std::ifstream(testing::synth_suite() / "depth_upscaled" / "provenance.json") >> prov;
  const auto source = prov.at("layer_source").get<std::vector<int>>();
  std::set<std::pair<int, int>> want;
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] != static_cast<int>(i)) want.insert({static_cast<int>(i), source[i]});
  }
  ASSERT_FALSE(want.empty());
  std::set<std::pair<int, int>> got;
  for (const auto& [layers, n] : e.moved) got.insert(layers);
  EXPECT_EQ(got, want);
  // Every tier-2 hash was read here (no pass hashes given), and the whole scan is small.
  EXPECT_GT(scan.cost.full_hashes_read + scan.cost.full_hashes_reused, 0u);
  EXPECT_GT(scan.cost.sampled_bytes, 0u);

  // An independent model shares no tensor with the base.
  const auto ind = plan_of("independent", "base");
  const auto none = scan_tensors(ind.models, {}, ind.bytes());
  EXPECT_TRUE(none.pairs.at(0).identical.empty());
}

/// whole_tensor_hashes of the outcomes in `done`, laid out as a store's result columns.
WholeTensorHashes whole_hashes_of(const RunPlan& plan, const std::map<std::uint64_t, UnitOutcome>& done,
                                  std::uint64_t row_block_bytes = kRowBlockBytes) {
  std::vector<std::uint64_t> ids, a, b;
  for (const auto& [id, o] : done) {
    ids.push_back(id);
    a.push_back(o.hash_a);
    b.push_back(o.hash_b);
  }
  return whole_tensor_hashes(plan.models, plan.units(), ids, a, b, row_block_bytes);
}

/// The outcomes of the plan's same-key units, computed here as the pass computes them.
std::map<std::uint64_t, UnitOutcome> same_key_outcomes(const RunPlan& plan) {
  cluster::UnitBytes bytes(plan.models);
  std::map<std::uint64_t, UnitOutcome> done;
  for (const auto& u : plan.units()) {
    if (u.kind == UnitKind::same_key) done.emplace(u.id, execute_unit(u, bytes.of(u.a), bytes.of(u.b)));
  }
  return done;
}

/// Every hash `known` holds is the XXH3 of its own tensor's whole bytes.
void expect_whole_tensor_hashes(const RunPlan& plan, const WholeTensorHashes& known) {
  std::size_t checked = 0;
  for (std::size_t m = 0; m < plan.models.size(); ++m) {
    const auto& tensors = plan.models[m].inventory.tensors;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const auto hash = known.find(m, i);
      if (!hash) continue;
      ++checked;
      io::SafetensorsFile f(std::filesystem::path(plan.models[m].dir) / t.file.str());
      EXPECT_EQ(*hash, whole_tensor_hash(f.range(t.data_begin, t.data_end))) << t.name;
    }
  }
  EXPECT_EQ(checked, known.size());
}

/// The identical tensor pairs a scan found between its first two models (names and hash).
std::set<std::tuple<std::string, std::string, std::uint64_t>> identical(const TensorScan& scan) {
  std::set<std::tuple<std::string, std::string, std::uint64_t>> out;
  for (const auto& p : scan.pairs.at(0).identical) out.insert({p.tensor_a, p.tensor_b, p.hash});
  return out;
}

TEST(ByteIdentity, ReusesThePassHashesOfUnitsCoveringWholeTensors) {
  const auto plan = plan_of("identical", "base");
  const auto known = whole_hashes_of(plan, same_key_outcomes(plan));
  ASSERT_FALSE(known.empty());
  expect_whole_tensor_hashes(plan, known);
  const auto scan = scan_tensors(plan.models, known, plan.bytes());
  EXPECT_GT(scan.pairs.at(0).identical.size(), 10u);
  EXPECT_GT(scan.cost.full_hashes_reused, 0u);
  EXPECT_LT(scan.cost.full_hashes_read, scan.cost.full_hashes_reused);
}

// Hashes the pass gives are taken for the very tensors they are of: on a pair whose inventories
// differ (a deeper suspect), the scan finds the same identical tensors with them as without, and a
// wrong hash given for one tensor takes that tensor, and only it, out of the identical pairs.
TEST(ByteIdentity, PassHashesAreTakenForTheirOwnTensors) {
  const auto plan = plan_of("depth_upscaled", "base");
  auto known = whole_hashes_of(plan, same_key_outcomes(plan));
  expect_whole_tensor_hashes(plan, known);  // each at its own model's inventory index
  const auto read_all = scan_tensors(plan.models, {}, plan.bytes());
  const auto with_known = scan_tensors(plan.models, known, plan.bytes());
  EXPECT_GT(with_known.cost.full_hashes_reused, read_all.cost.full_hashes_reused);
  const auto want = identical(read_all);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(identical(with_known), want);
  // The suspect's tensor of the first identical pair given a wrong hash.
  const auto& victim = std::get<0>(*want.begin());
  const auto& tensors = plan.models.at(0).inventory.tensors;
  const auto at = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == victim; });
  ASSERT_NE(at, tensors.end());
  known.set(0, static_cast<std::size_t>(at - tensors.begin()), std::get<2>(*want.begin()) ^ 1);
  auto without_victim = want;
  std::erase_if(without_victim, [&](const auto& p) { return std::get<0>(p) == victim; });
  EXPECT_EQ(identical(scan_tensors(plan.models, known, plan.bytes())), without_victim);
}

// The scan counts only tensors with bytes in a shard, so its index of a tensor is not the
// inventory's once an earlier tensor is left out; the pass's hashes are kept by inventory index.
// With an empty tensor put first in the suspect's inventory (every later index one more) and a
// tensor of no known dtype put in the parent's, the hashes moved with their tensors give the same
// identical pairs, with the same hashes, as before.
TEST(ByteIdentity, PassHashesFollowTheInventoryIndexPastUnscannedTensors) {
  const auto plan = plan_of("depth_upscaled", "base");
  const auto known = whole_hashes_of(plan, same_key_outcomes(plan));
  ASSERT_FALSE(known.empty());
  const auto before = scan_tensors(plan.models, known, plan.bytes());
  ASSERT_FALSE(before.pairs.at(0).identical.empty());

  auto models = plan.models;
  const std::size_t inserted_at[2] = {0, models.at(1).inventory.tensors.size() / 2};
  {
    auto empty = models[0].inventory.tensors.front();
    empty.name = "unscanned.empty";
    empty.data_end = empty.data_begin;
    auto& a = models[0].inventory.tensors;
    a.insert(a.begin(), empty);
    auto no_dtype = models[1].inventory.tensors.at(inserted_at[1]);
    no_dtype.name = "unscanned.no_dtype";
    no_dtype.dtype.reset();
    auto& b = models[1].inventory.tensors;
    b.insert(b.begin() + static_cast<std::ptrdiff_t>(inserted_at[1]), no_dtype);
  }
  WholeTensorHashes moved(models);
  std::size_t carried = 0;
  std::size_t shifted[2] = {0, 0};  // hashes of tensors after the inserted one, per model
  for (std::size_t m = 0; m < 2; ++m) {
    for (std::size_t i = 0; i < plan.models[m].inventory.tensors.size(); ++i) {
      if (const auto h = known.find(m, i)) {
        moved.set(m, i + (i >= inserted_at[m] ? 1 : 0), *h);
        ++carried;
        shifted[m] += i >= inserted_at[m] ? 1 : 0;
      }
    }
  }
  ASSERT_EQ(carried, known.size());
  // Both insertions move hashes that the scan takes: before, each side reused some.
  ASSERT_GT(shifted[0], 0u);
  ASSERT_GT(shifted[1], 0u);
  const auto after = scan_tensors(models, moved, plan.bytes());
  EXPECT_EQ(identical(after), identical(before));
  EXPECT_EQ(after.cost.full_hashes_reused, before.cost.full_hashes_reused);
  EXPECT_EQ(after.cost.full_hashes_read, before.cost.full_hashes_read);
  for (const auto& scanned : after.models) {
    for (const auto& t : scanned) EXPECT_NE(t.name.rfind("unscanned.", 0), 0u) << t.name;
  }
}

// The scan's shares (blocks copied by pread at each tensor's offsets in its shard, spread over
// ranks) merge into the samples of the tensors' own bytes, tensor by tensor.
TEST(ByteIdentity, TheScansSharesAreTheSamplesOfEachTensorsBytes) {
  const auto plan = plan_of("finetune", "base");
  std::vector<std::vector<std::byte>> shares(3);
  for (int rank = 0; rank < 3; ++rank) shares[static_cast<std::size_t>(rank)] = sample_share(plan.models, rank, 3);
  const auto sampled = merge_shares(plan.models, shares);
  ASSERT_EQ(sampled.models.size(), plan.models.size());
  for (std::size_t m = 0; m < plan.models.size(); ++m) {
    std::size_t i = 0;
    for (const auto& t : plan.models[m].inventory.tensors) {
      if (!t.dtype || t.data_end <= t.data_begin || t.file.str().empty()) continue;
      ASSERT_LT(i, sampled.models[m].size());
      const auto& got = sampled.models[m][i++];
      EXPECT_EQ(got.name, t.name);
      io::SafetensorsFile f(std::filesystem::path(plan.models[m].dir) / t.file.str());
      const auto want = sample_tensor(*t.dtype, f.range(t.data_begin, t.data_end));
      EXPECT_EQ(got.sample.sampled_digest, want.sampled_digest) << t.name;
      EXPECT_EQ(got.sample.sampled_bytes, want.sampled_bytes) << t.name;
      EXPECT_EQ(got.sample.whole, want.whole) << t.name;
      EXPECT_EQ(got.sample.nontrivial, want.nontrivial) << t.name;
      EXPECT_EQ(got.sample.std_elements, want.std_elements) << t.name;
      EXPECT_TRUE(got.sample.sampled_std == want.sampled_std ||
                  (std::isnan(got.sample.sampled_std) && std::isnan(want.sampled_std)))
          << t.name;
    }
    EXPECT_EQ(i, sampled.models[m].size());
  }
}

TEST(ByteIdentity, SplitUnitsHashesAreNotTakenForWholeTensorHashes) {
  // Units cut into row blocks store the hash of their block hashes: tier 2 must read those
  // tensors itself, and the scan must find the same identical tensors as with unsplit units.
  const auto plan = plan_of("identical", "base");
  cluster::UnitBytes bytes(plan.models);
  constexpr std::uint64_t small_blocks = 8 << 10;
  std::map<std::uint64_t, UnitOutcome> whole, split;
  std::size_t split_units = 0;
  for (const auto& u : plan.units()) {
    if (u.kind != UnitKind::same_key) continue;
    whole.emplace(u.id, execute_unit(u, bytes.of(u.a), bytes.of(u.b)));
    split.emplace(u.id, execute_unit(u, bytes.of(u.a), bytes.of(u.b), {}, small_blocks));
    split_units += row_blocks(u, small_blocks).size() > 1;
  }
  ASSERT_GT(split_units, 0u);
  const auto known = whole_hashes_of(plan, split, small_blocks);
  EXPECT_LT(known.size(), whole_hashes_of(plan, whole).size());
  expect_whole_tensor_hashes(plan, known);
  const auto with_split = scan_tensors(plan.models, known, plan.bytes());
  const auto with_whole = scan_tensors(plan.models, whole_hashes_of(plan, whole), plan.bytes());
  EXPECT_EQ(with_split.pairs.at(0).identical.size(), with_whole.pairs.at(0).identical.size());
  EXPECT_GT(with_split.cost.full_hashes_read, with_whole.cost.full_hashes_read);
}

PairVerdict verdict_of(VerdictClass cls, std::vector<DerivationKind> kinds = {}) {
  PairVerdict v;
  v.overall = cls;
  v.kinds = std::move(kinds);
  v.reason = "rubric";
  return v;
}

ByteIdentityEvidence evidence(const std::vector<IdenticalTensorPair>& pairs) {
  TensorScan scan;
  scan.pairs.push_back({0, 1, pairs.size(), pairs});
  return byte_identity_of(scan, 0, 1);
}

TEST(ByteIdentity, IdenticalTensorsUnderAnotherNameMakeReuseAndExplainKinds) {
  const IdenticalTensorPair moved_layer{"l.3.q", "l.2.q", "text/attn_q/L3", "text/attn_q/L2", 8192, 1};
  const IdenticalTensorPair moved_expert{
      "l.1.e.5.up", "l.1.e.2.up", "text/routed_expert/L1/E5/up", "text/routed_expert/L1/E2/up", 8192, 2};
  const IdenticalTensorPair table{"pos", "pos", "text/other", "text/other", 8192, 3};
  {
    const auto e = evidence({moved_layer});
    EXPECT_EQ(e.moved.at({3, 2}), 1u);
    auto v = verdict_of(VerdictClass::independent);
    apply_byte_identity(e, v);
    EXPECT_EQ(v.overall, VerdictClass::partial_reuse);
    EXPECT_NE(v.reason.find("byte-identical"), std::string::npos);
  }
  {
    // A table of role `other` (e.g. a fixed position table) is equal in independent models.
    auto v = verdict_of(VerdictClass::independent);
    apply_byte_identity(evidence({table}), v);
    EXPECT_EQ(v.overall, VerdictClass::independent);
  }
  {
    auto v = verdict_of(VerdictClass::derived, {{"depth_upscaled", "4 layers, 6 in the suspect", 0.3}});
    apply_byte_identity(evidence({moved_layer}), v);
    EXPECT_GT(v.kinds.at(0).p_value, 0.0);
    EXPECT_LT(v.kinds.at(0).p_value, 1e-15);
    EXPECT_NE(v.kinds.at(0).evidence.find("3<-2"), std::string::npos);
  }
  {
    const auto e = evidence({moved_expert});
    EXPECT_EQ(e.experts_moved, 1u);
    auto v = verdict_of(VerdictClass::derived, {{"finetune", "small", 1e-9}});
    apply_byte_identity(e, v);
    ASSERT_EQ(v.kinds.size(), 2u);
    EXPECT_EQ(v.kinds[1].kind, "permuted");
    EXPECT_EQ(v.kind, "finetune + permuted");
    EXPECT_EQ(e.expert_moves.at({1, 5, 2}), 1u);
    EXPECT_EQ(e.to_json().at("expert_moves").at(0).at("other_expert"), 2);
    // After a pruning the kept experts are renumbered: that supports expert_pruned, not permuted.
    auto pruned = verdict_of(VerdictClass::derived, {{"expert_pruned", "8 experts, 6 in the suspect", 1e-3}});
    apply_byte_identity(e, pruned);
    ASSERT_EQ(pruned.kinds.size(), 1u);
    EXPECT_LT(pruned.kinds[0].p_value, 1e-15);
    EXPECT_NE(pruned.kinds[0].evidence.find("under another expert index"), std::string::npos);
  }
  {
    // A tensor that also equals the other's tensor of its own name stayed in place: no move.
    const IdenticalTensorPair stayed{"l.3.q", "l.3.q", "text/attn_q/L3", "text/attn_q/L3", 8192, 1};
    const auto e = evidence({stayed, moved_layer});
    EXPECT_TRUE(e.moved.empty());
    EXPECT_EQ(e.renamed, 1u);
    auto v = verdict_of(VerdictClass::identical);
    apply_byte_identity(e, v);
    EXPECT_TRUE(v.kinds.empty());
  }
  {
    auto v = verdict_of(VerdictClass::independent);
    apply_byte_identity(evidence({}), v);
    EXPECT_EQ(v.overall, VerdictClass::independent);
  }
}

}  // namespace
}  // namespace lineage::stages
