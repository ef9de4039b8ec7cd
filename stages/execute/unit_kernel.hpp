#pragma once
/// @file unit_kernel.hpp
/// The statistics pass of one comparison unit over blocks of both sides: every sum, extreme and
/// count in one vectorised pass per block, merged across blocks in a fixed order. execute_unit
/// decodes and hashes; this file only accumulates, so the two meet at one struct. On AVX2 and
/// AVX-512 a block of BF16 is read as stored instead of decoded (add_bf16_block), each step's
/// halves made floats in registers: the same operations on the same values, so the same bits.
///
/// Why it is shaped this way (docs/benchmarks.md has the profile):
/// - Eight independent float lanes per sum within a block of 4,096 elements, the lanes' sums then
///   added in double in a fixed order (GCC vector extensions, compiled once per ISA and chosen at
///   run time, without FMA contraction), so every ISA computes the same operations in the same
///   order: results do not depend on the machine's vector width, nor on the rank count. Float
///   lanes do half the work of double ones; what they sum keeps the precision near cosine 1 (the
///   sums of the shifted differences, from which s_b, s_ab and s_bb are taken: docs/methods.md "Float
///   lanes within a block"). A block whose float sums overflow, or whose values are too small for
///   float squares, is summed in double lanes instead (four at a time on AVX2, eight on AVX-512).
/// - Non-finite elements are masked and counted, never branched on per element; a block finite
///   on both sides (the usual case) is summed without the masks, which would select every lane
///   (the same bits).
/// - One pass per block: the sums are of values shifted by the running means (the block's own
///   for the first block), which gives the raw sums and the centred ones without the
///   Σx² − (Σx)²/n cancellation (METHODS §2.3); blocks are Chan-merged.
/// - The quantile histograms see a fixed sample of logical indices (every `stride`-th element),
///   off the hot path.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lineage::stages {

/// Elements per block: moments are summed per block and Chan-merged across blocks. Fixed
/// here (not by rank or chunk options) so every unit's result is bit-identical on any rank count.
inline constexpr std::size_t kKernelBlock = 4096;
/// Histogram buckets: the upper 16 bits of a non-negative float (METHODS §2.4).
inline constexpr std::size_t kKernelBuckets = 1u << 15;

/// How "bit-equal" is decided for a pair of elements.
enum class BitEquality {
  none,        ///< the two sides store different dtypes: never bit-equal
  float_bits,  ///< same dtype whose decoding is injective on finite values (F32, BF16, F16, F8)
  raw_bits,    ///< same dtype, compare the stored bits passed alongside (F64, integers)
};

/// What a pass computes. `full`: every statistic of docs/methods.md §2. `screen` (compare
/// --screen): the counts, the equal-value and equal-bit counts and the moments (cosine, centred
/// cosine, relative L2 and the means, spreads and norms come from them); no extremes, no absolute
/// differences, no histograms (so no quantiles). What both compute, they compute with the same
/// operations in the same order: a screening pass's moments are the full pass's bit for bit.
enum class PassStatistics : std::uint8_t { full, screen };

/// Which code the pass runs: `portable`, the compiler's generic vectors for any machine; `narrow`,
/// AVX2 (x86-64-v3: the float lanes in one register, the double fallback's lanes four at a time
/// in two loops); `wide`, AVX-512 (x86-64-v4: the double fallback's eight lanes in one loop). All
/// give the same bits.
enum class KernelWidth { portable, narrow, wide };
/// Whether this machine can run `width` (portable always).
[[nodiscard]] bool kernel_width_available(KernelWidth width) noexcept;
/// For tests and benchmarks: every later pass of this process uses `width` (the widest narrower
/// one the machine has when it lacks it). By default the widest available is used.
void use_kernel_width(KernelWidth width) noexcept;
/// The width the passes use now.
[[nodiscard]] KernelWidth kernel_width_in_use() noexcept;

/// Every accumulator of one unit's pass. Plain data: execute_unit turns it into statistics.
struct UnitSums {
  // Chan-merged moments of the finite pairs.
  double n = 0, mean_a = 0, mean_b = 0, m2_a = 0, m2_b = 0, c_ab = 0;
  // Raw sums over finite pairs; the (x-1) sums come from each block's centred moments.
  double s_aa = 0, s_bb = 0, s_ab = 0, s_ad = 0, s_dd = 0, s_a1 = 0, s_b1 = 0, s_a1b1 = 0;
  double max_d = 0;
  double min_a, max_a, min_b, max_b;  // +-infinity until a finite pair is seen
  std::uint64_t n_ok = 0, n_bad = 0, bit_eq = 0, val_eq = 0, bad_a = 0, bad_b = 0, bad_mismatch = 0;
  // Histograms of |a|, |b| and |a-b| over the finite pairs of the sample, and its size (empty
  // in a screening pass).
  std::vector<std::uint64_t> h_a, h_b, h_d;
  std::uint64_t n_hist = 0;
  /// Logical elements between two histogram samples (a power of two, at least 1).
  std::uint64_t hist_stride = 1;

  PassStatistics statistics = PassStatistics::full;

  /// @param[in] n_total  logical elements of the unit: the histogram sample keeps at least 2^17
  ///                     of them (every element of a unit under 2^18 elements)
  /// @param[in] statistics  what add_block computes; a screening pass keeps no histograms
  explicit UnitSums(std::uint64_t n_total, PassStatistics statistics = PassStatistics::full);

  /// Adds one block of decoded elements at logical index `start` (blocks must arrive in order).
  /// `bits_a`/`bits_b` are the stored bits, read only for BitEquality::raw_bits.
  void add_block(std::uint64_t start, const float* a, const float* b, std::size_t len, BitEquality mode,
                 const std::uint64_t* bits_a = nullptr, const std::uint64_t* bits_b = nullptr);

  /// Whether add_bf16_block adds: a pass on the narrow (AVX2) or wide (AVX-512) width in use now.
  /// Elsewhere (portable) the caller decodes BF16 into a block with the vectorised decoder and
  /// calls add_block.
  [[nodiscard]] bool reads_stored_bf16() const noexcept;

  /// add_block for one kernel block (len at most kKernelBlock, else InternalError) of BF16
  /// elements as stored on both sides (`a` and `b` point at len x 2 bytes,
  /// BitEquality::float_bits), at logical index `start`: the same sums, extremes and histograms
  /// bit for bit, without decoding them into a block first. Returns false, adding nothing,
  /// unless reads_stored_bf16() (the width read once, here: a test may choose another between
  /// two blocks); the caller then decodes and calls add_block.
  [[nodiscard]] bool add_bf16_block(std::uint64_t start, const std::byte* a, const std::byte* b, std::size_t len);

  /// Adds the sums of the logical elements that follow this one's (a row block's, computed alone
  /// from a fresh UnitSums of the same unit): counts, sums and histograms add, extremes combine,
  /// the moments are Chan-merged. Merged in the same order, blocks give the same bits wherever
  /// they were computed. Throws InternalError when the histogram strides differ (other units)
  /// or the two computed different statistics.
  void merge(const UnitSums& next);
};

}  // namespace lineage::stages
