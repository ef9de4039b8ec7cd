#pragma once
/// @file byte_identity.hpp
/// Byte identity in tiers (METHODS §2.5) across every equal-size tensor pair of two models,
/// whatever their names: a layer copied to another index or an expert moved is found as well as a
/// tensor kept under its own name.
///
/// - Tier 1: every non-trivial tensor of every model is sampled once: 16 blocks of 4 KiB at
///   offsets that depend on its byte size only (never on its name, which may differ), hashed
///   with XXH3. Tensors of two models with the same byte size, dtype and sampled digest are
///   candidates.
/// - Tier 2: a candidate pair is confirmed by the XXH3 of both whole tensors: the hash the
///   compare pass already computed when one of its units covered the whole tensor, otherwise
///   read here.
///
/// The same sample gives each tensor's standard deviation, from which the shape-free std
/// curves are drawn (stages/verdict/std_curves.hpp).

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.hpp"
#include "io/spilled_vector.hpp"
#include "stages/execute/block_scales.hpp"
#include "stages/execute/unit_outcome.hpp"
#include "stages/pair/comparison_unit.hpp"
#include "stages/plan/row_blocks.hpp"
#include "stages/plan/run_models.hpp"

namespace lineage::stages {

inline constexpr std::size_t kIdentityBlocks = 16;
inline constexpr std::uint64_t kIdentityBlockBytes = 4096;
/// Smallest block: tensors below kIdentityBlocks * kIdentityMinBlockBytes * 8 bytes (8 KiB) are
/// read whole.
inline constexpr std::uint64_t kIdentityMinBlockBytes = 64;
/// "Non-trivial" (METHODS §2.5): smaller or near-constant tensors (norms at their initial 1.0,
/// zero biases) can coincide by construction, so they never take part.
inline constexpr std::uint64_t kIdentityMinElements = 4096;
inline constexpr std::size_t kIdentityMinDistinct = 64;

/// The sampled blocks of a tensor of `bytes` bytes: kIdentityBlocks blocks, evenly spread and
/// aligned to 8 bytes (a multiple of every element size), of 4 KiB or of an eighth of the tensor
/// over the blocks when that is smaller (so tier 1 never reads more than 1/8 of a tensor above
/// 8 KiB); one block of the whole tensor below 8 KiB. They depend on the size only.
struct IdentityBlocks {
  std::uint64_t block_bytes = 0;
  std::vector<std::uint64_t> offsets;
  [[nodiscard]] bool whole(std::uint64_t bytes) const noexcept { return offsets.size() == 1 && block_bytes == bytes; }
};
[[nodiscard]] IdentityBlocks identity_blocks(std::uint64_t bytes);

/// What tier 1 learns of one tensor from its sampled blocks.
struct TensorSample {
  std::uint64_t sampled_digest = 0;  ///< XXH3 of the blocks, seeded with the byte size
  std::uint64_t sampled_bytes = 0;   ///< bytes read
  bool whole = false;                ///< the blocks are the whole tensor (the digest is the full hash)
  bool nontrivial = false;  ///< >= kIdentityMinElements elements, >= kIdentityMinDistinct distinct values sampled
  double sampled_std = 0;   ///< population SD of the finite sampled values (NaN: not a float dtype)
  std::uint64_t std_elements = 0;  ///< finite values behind sampled_std
};

/// @param[in] bytes  the tensor's whole stored bytes (only the sampled blocks are read)
[[nodiscard]] TensorSample sample_tensor(Dtype dtype, std::span<const std::byte> bytes);
/// The same from the sampled blocks alone: `sampled` holds identity_blocks(tensor_bytes)'s blocks
/// one after the other (the scan copies them from the file). InternalError when its size is not
/// theirs. A block-scaled weight's SD is of its values (`scales`, METHODS §0); its digest and
/// distinct elements stay those of its stored codes.
[[nodiscard]] TensorSample sample_of_blocks(Dtype dtype, std::uint64_t tensor_bytes, std::span<const std::byte> sampled,
                                            const BlockScales* scales = nullptr);

/// XXH3-64 of a whole tensor's bytes (what a compare unit covering the tensor hashes).
[[nodiscard]] std::uint64_t whole_tensor_hash(std::span<const std::byte> bytes);

/// One tensor of a model as the scan records it.
struct ScannedTensor {
  std::string name;
  std::string key;  ///< canonical key text (core/tensor_key.hpp)
  Dtype dtype = Dtype::BF16;
  std::uint64_t bytes = 0;
  TensorSample sample;
};

/// Tier 1 and 2 over one model pair: candidates by (bytes, dtype, sampled digest) among the
/// non-trivial tensors, confirmed by `full_hash(side, index)` (side 0 = a, 1 = b).
struct IdenticalIndexPair {
  std::size_t a = 0;
  std::size_t b = 0;
  std::uint64_t hash = 0;
};
struct IdentityMatches {
  std::size_t candidates = 0;  ///< pairs tier 1 passed to tier 2
  std::vector<IdenticalIndexPair> identical;
};
[[nodiscard]] IdentityMatches match_identical(
    const std::vector<ScannedTensor>& a, const std::vector<ScannedTensor>& b,
    const std::function<std::uint64_t(int side, std::size_t index)>& full_hash);

/// A byte-identical tensor pair of a model pair, by name.
struct IdenticalTensorPair {
  std::string tensor_a, tensor_b;
  std::string key_a, key_b;
  std::uint64_t bytes = 0;
  std::uint64_t hash = 0;
  [[nodiscard]] bool same_name() const noexcept { return tensor_a == tensor_b; }
};

struct ScanPair {
  int model_a = 0;
  int model_b = 1;
  std::size_t candidates = 0;
  std::vector<IdenticalTensorPair> identical;
};

/// What the scan cost, against the bytes the compare pass reads.
struct ScanCost {
  std::uint64_t sampled_bytes = 0;     ///< tier 1, every model
  std::uint64_t full_bytes_read = 0;   ///< tier 2 hashes not available from the pass
  std::size_t full_hashes_reused = 0;  ///< tier 2 hashes taken from the pass's units (or whole samples)
  std::size_t full_hashes_read = 0;
  std::uint64_t pass_bytes = 0;  ///< what the pass's units read
  double seconds = 0;
};

/// The scan of a run: per model its tensors (with the sampled SD), per pair (suspect, other) the
/// byte-identical tensors. Stored as JSON in the result store (/tensor_scan/json).
struct TensorScan {
  std::vector<std::vector<ScannedTensor>> models;
  std::vector<ScanPair> pairs;
  ScanCost cost;
  [[nodiscard]] nlohmann::json to_json() const;
  /// to_json().dump(), the same bytes, made a tensor at a time: the object of a deep MoE pair's
  /// scan (a hundred thousand tensors) is several times its text.
  [[nodiscard]] io::SpilledText to_json_text() const;
  /// Throws StoreError naming `where` on a document that does not have this shape.
  [[nodiscard]] static TensorScan from_json(const nlohmann::json& j, const std::string& where);
};

/// XXH3 of whole tensors, by model and the tensor's index in that model's inventory: a flat array
/// a model (about 8 bytes a tensor), where a map keyed by names held a copy of every name (12 MB at
/// the tensor scan of a 95,000-tensor pair, the run's peak). Valid for the inventories it was made
/// from only: scan_tensors is given the same models.
class WholeTensorHashes {
 public:
  WholeTensorHashes() = default;
  /// Room for every tensor of `models`, none known.
  explicit WholeTensorHashes(const std::vector<RunModel>& models);
  void set(std::size_t model, std::size_t tensor, std::uint64_t hash);
  /// The hash of inventory tensor `tensor` of `model`, when known.
  [[nodiscard]] std::optional<std::uint64_t> find(std::size_t model, std::size_t tensor) const noexcept;
  /// How many tensors have a hash.
  [[nodiscard]] std::size_t size() const noexcept { return known_count_; }
  [[nodiscard]] bool empty() const noexcept { return known_count_ == 0; }

 private:
  std::vector<std::vector<std::uint64_t>> hashes_;
  std::vector<std::vector<bool>> known_;
  std::size_t known_count_ = 0;
};

/// The whole-tensor hashes of the finished units whose view covers a whole contiguous tensor
/// (those hashes equal whole_tensor_hash of its bytes): units `unit_ids` with the hashes of their
/// sides `hash_a` and `hash_b` (a store's result columns). Units cut into more than one row block
/// at `row_block_bytes` are left out: their hash is the hash of their block hashes
/// (execute_unit.hpp merge_row_blocks), so tier 2 reads those tensors whole.
[[nodiscard]] WholeTensorHashes whole_tensor_hashes(const std::vector<RunModel>& models,
                                                    std::span<const ComparisonUnit> units,
                                                    std::span<const std::uint64_t> unit_ids,
                                                    std::span<const std::uint64_t> hash_a,
                                                    std::span<const std::uint64_t> hash_b,
                                                    std::uint64_t row_block_bytes = kRowBlockBytes);

/// Tier 1 over the run's models, spread over ranks: the scanned tensors of all models, counted in
/// model then listing order, go round-robin (tensor t to rank t % ranks); each costs at most 64 KiB,
/// so the shares are even. Returns this rank's samples packed for a gather.
[[nodiscard]] std::vector<std::byte> sample_share(const std::vector<RunModel>& models, int rank, int ranks);

/// Every rank's packed share (in rank order) back to per-model scanned tensors (with the largest
/// rank's sampling time). Throws InternalError on shares that do not fit the models.
struct SampledModels {
  std::vector<std::vector<ScannedTensor>> models;
  std::uint64_t sampled_bytes = 0;
  double seconds = 0;
};
[[nodiscard]] SampledModels merge_shares(const std::vector<RunModel>& models,
                                         const std::vector<std::vector<std::byte>>& shares);

/// Tier 2 over every pair (suspect 0, other j), reading through io::SafetensorsFile what `known`
/// lacks. Throws what opening a shard throws.
[[nodiscard]] TensorScan scan_tensors(const std::vector<RunModel>& models, SampledModels sampled,
                                      const WholeTensorHashes& known, std::uint64_t pass_bytes);
/// Both tiers on one process.
[[nodiscard]] TensorScan scan_tensors(const std::vector<RunModel>& models, const WholeTensorHashes& known,
                                      std::uint64_t pass_bytes);

}  // namespace lineage::stages
