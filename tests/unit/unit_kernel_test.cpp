// The compare kernel (stages/execute/unit_kernel.hpp): every accumulator of UnitSums is pinned
// to the bits the kernel gives since its block sums were taken in float lanes (2026-12-07; before,
// the bits of commit ecb2a32's double lanes), on finite blocks, blocks with NaN, infinities and
// -0, padded tails, stored-bit equality, a sampled histogram and a merge; the cosines of
// near-identical pairs against a long-double reference. A change here changes compare's results: document
// it in docs/methods.md and update the fingerprints with the reason.
#include "stages/execute/unit_kernel.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/errors.hpp"

namespace lineage::stages {
namespace {

std::uint64_t next_random(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

/// A BF16-representable value near N(0, 0.02)-ish: a sum of four uniforms, rounded to BF16.
float random_weight(std::uint64_t& s) {
  double u = 0;
  for (int k = 0; k < 4; ++k) u += static_cast<double>(next_random(s) >> 11) * 0x1p-53 - 0.5;
  const auto f = static_cast<float>(u * 0.035);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) & 0xffff0000u);
}

void append_bytes(std::vector<unsigned char>& out, const void* p, std::size_t n) {
  const auto* c = static_cast<const unsigned char*>(p);
  out.insert(out.end(), c, c + n);
}

/// XXH3-64 of every field of the sums.
std::uint64_t fingerprint(const UnitSums& s) {
  std::vector<unsigned char> out;
  for (double d : {s.n, s.mean_a, s.mean_b, s.m2_a, s.m2_b, s.c_ab, s.s_aa, s.s_bb, s.s_ab, s.s_ad, s.s_dd, s.s_a1,
                   s.s_b1, s.s_a1b1, s.max_d, s.min_a, s.max_a, s.min_b, s.max_b}) {
    append_bytes(out, &d, sizeof d);
  }
  for (std::uint64_t c :
       {s.n_ok, s.n_bad, s.bit_eq, s.val_eq, s.bad_a, s.bad_b, s.bad_mismatch, s.n_hist, s.hist_stride}) {
    append_bytes(out, &c, sizeof c);
  }
  for (const auto* h : {&s.h_a, &s.h_b, &s.h_d}) append_bytes(out, h->data(), h->size() * sizeof(std::uint64_t));
  return XXH3_64bits(out.data(), out.size());
}

/// Element pairs stored as BF16 (the upper halves of the floats x and y), and the floats those
/// halves decode to.
struct Bf16Pairs {
  std::vector<std::byte> a, b;
  std::vector<float> fa, fb;
  explicit Bf16Pairs(std::uint64_t n) : a(2 * n), b(2 * n), fa(n), fb(n) {}
  void set(std::uint64_t i, float x, float y) {
    const auto hx = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(x) >> 16);
    const auto hy = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(y) >> 16);
    std::memcpy(a.data() + 2 * i, &hx, 2);
    std::memcpy(b.data() + 2 * i, &hy, 2);
    fa[i] = std::bit_cast<float>(static_cast<std::uint32_t>(hx) << 16);
    fb[i] = std::bit_cast<float>(static_cast<std::uint32_t>(hy) << 16);
  }
};

/// The sums of one generated unit: `n` elements fed in kernel blocks (a shorter last one), b a
/// perturbed copy of a, both multiplied by `scale`. special: every special-th element of a side is
/// NaN, +-inf or -0 (0: none).
UnitSums generated_sums(std::uint64_t n, std::uint64_t seed, std::uint64_t special, BitEquality mode,
                        PassStatistics statistics = PassStatistics::full, float scale = 1.0f) {
  using namespace lineage::stages;
  std::uint64_t s = seed;
  std::vector<float> a(n), b(n);
  std::vector<std::uint64_t> ba(n), bb(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    a[i] = random_weight(s);
    b[i] = (next_random(s) % 4 == 0) ? a[i] : a[i] + random_weight(s) * 0.05f;
    a[i] *= scale, b[i] *= scale;
    if (special != 0) {
      for (float* p : {&a[i], &b[i]}) {
        if (next_random(s) % special == 0) {
          const float v[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity(), -0.0f};
          *p = v[next_random(s) % 4];
        }
      }
    }
    ba[i] = std::bit_cast<std::uint32_t>(a[i]);
    bb[i] = std::bit_cast<std::uint32_t>(b[i]);
  }
  UnitSums sums(n, statistics);
  for (std::uint64_t start = 0; start < n; start += kKernelBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kKernelBlock, n - start));
    sums.add_block(start, a.data() + start, b.data() + start, len, mode, ba.data() + start, bb.data() + start);
  }
  return sums;
}

std::vector<KernelWidth> available_widths() {
  std::vector<KernelWidth> out{KernelWidth::portable};
  for (const auto width : {KernelWidth::narrow, KernelWidth::wide}) {
    if (kernel_width_available(width)) out.push_back(width);
  }
  return out;
}

/// Every pass in scope sums with `width`; the default (the widest) again after.
struct WidthInUse {
  explicit WidthInUse(KernelWidth width) { use_kernel_width(width); }
  ~WidthInUse() { use_kernel_width(KernelWidth::wide); }
  WidthInUse(const WidthInUse&) = delete;
  WidthInUse& operator=(const WidthInUse&) = delete;
};

struct GoldenCase {
  std::uint64_t n, seed, special;
  BitEquality mode;
  std::uint64_t fingerprint;
};

TEST(UnitKernel, SumsKeepTheirBits) {
  const GoldenCase cases[] = {
      {5 * 4096, 1, 0, BitEquality::float_bits, 0xb04b5fe103bff3fbull},                        // finite blocks only
      {3 * 4096 + 13, 2, 0, BitEquality::float_bits, 0x15df31a2bf6d6bdbull},                   // and a padded tail
      {3 * 4096 + 13, 3, 997, BitEquality::float_bits, 0x7be4719decca166aull},                 // a few non-finite
      {2 * 4096 + 5, 4, 7, BitEquality::raw_bits, 0xaaa4cfa5373d61c4ull},                      // many; stored bits
      {4096, 5, 0, BitEquality::none, 0x78477bee83b255ffull},                                  // different dtypes
      {7, 6, 3, BitEquality::float_bits, 0xaa1d1be40094dedcull},                               // tail only
      {(1u << 21) + 4096 * 3 + 1, 7, 100003, BitEquality::float_bits, 0x09c43170d0577692ull},  // sampled hist
  };
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    for (const auto& c : cases) {
      EXPECT_EQ(fingerprint(generated_sums(c.n, c.seed, c.special, c.mode)), c.fingerprint)
          << "n " << c.n << " seed " << c.seed << " width " << static_cast<int>(width);
    }
  }
}

TEST(UnitKernel, DoubleLaneSumsKeepTheirBits) {
  // Blocks whose float sums the kernel refuses (float_sums_into: squares beyond float's range at
  // 1e20, below its normal range at 1e-22) are summed in double lanes: pinned as the goldens above
  // are, on every width, finite blocks and blocks with NaN, infinities and -0 (the masked loops).
  struct ScaledCase {
    float scale;
    std::uint64_t special, fingerprint;
  };
  const ScaledCase cases[] = {
      {1e20f, 0, 0x987438437e173e63ull},
      {1e20f, 997, 0x8fdb1505e30d9955ull},
      {1e-22f, 0, 0x664e7c0f44ec44fdull},
      {1e-22f, 997, 0xce22cdb91bb74555ull},
  };
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    for (const auto& c : cases) {
      const UnitSums sums =
          generated_sums(3 * 4096 + 13, 12, c.special, BitEquality::float_bits, PassStatistics::full, c.scale);
      EXPECT_EQ(fingerprint(sums), c.fingerprint)
          << "scale " << c.scale << " special " << c.special << " width " << static_cast<int>(width);
    }
  }
}

TEST(UnitKernel, MergedSumsKeepTheirBits) {
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    auto x = generated_sums(3 * 4096 + 13, 8, 0, BitEquality::float_bits);
    x.merge(generated_sums(3 * 4096 + 13, 9, 501, BitEquality::float_bits));
    EXPECT_EQ(fingerprint(x), 0x89f35279617241deull) << "width " << static_cast<int>(width);
  }
}

/// The fields a screening pass computes (PassStatistics::screen), as bits.
std::vector<std::uint64_t> screened_fields(const UnitSums& s) {
  std::vector<std::uint64_t> out;
  for (double d :
       {s.n, s.mean_a, s.mean_b, s.m2_a, s.m2_b, s.c_ab, s.s_aa, s.s_bb, s.s_ab, s.s_dd, s.s_a1, s.s_b1, s.s_a1b1}) {
    out.push_back(std::bit_cast<std::uint64_t>(d));
  }
  for (std::uint64_t c : {s.n_ok, s.n_bad, s.bit_eq, s.val_eq, s.bad_a, s.bad_b, s.bad_mismatch, s.hist_stride}) {
    out.push_back(c);
  }
  return out;
}

TEST(UnitKernel, AScreeningPassSumsWhatItComputesAsTheFullPassDoes) {
  // compare --screen must give the cosines, relative L2 and counts of a full run bit for bit: on
  // finite blocks, non-finite values, stored bits, tails, a merge, and on either width.
  struct Case {
    std::uint64_t n, seed, special;
    BitEquality mode;
  };
  const Case cases[] = {{5 * 4096, 1, 0, BitEquality::float_bits},
                        {3 * 4096 + 13, 3, 997, BitEquality::float_bits},
                        {2 * 4096 + 5, 4, 7, BitEquality::raw_bits},
                        {7, 6, 3, BitEquality::none}};
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    for (const auto& c : cases) {
      const auto full = generated_sums(c.n, c.seed, c.special, c.mode);
      const auto screen = generated_sums(c.n, c.seed, c.special, c.mode, PassStatistics::screen);
      EXPECT_EQ(screened_fields(screen), screened_fields(full)) << "n " << c.n << " width " << static_cast<int>(width);
      EXPECT_EQ(screen.statistics, PassStatistics::screen);
      // Nothing else: no histograms, no absolute differences, no extremes.
      EXPECT_TRUE(screen.h_a.empty() && screen.h_b.empty() && screen.h_d.empty());
      EXPECT_EQ(screen.n_hist, 0u);
      EXPECT_EQ(screen.s_ad, 0.0);
      EXPECT_EQ(screen.max_d, 0.0);
      EXPECT_GT(full.s_ad, 0.0);
      EXPECT_GT(full.n_hist, 0u);
    }
    auto full = generated_sums(3 * 4096 + 13, 8, 0, BitEquality::float_bits);
    full.merge(generated_sums(3 * 4096 + 13, 9, 501, BitEquality::float_bits));
    auto screen = generated_sums(3 * 4096 + 13, 8, 0, BitEquality::float_bits, PassStatistics::screen);
    screen.merge(generated_sums(3 * 4096 + 13, 9, 501, BitEquality::float_bits, PassStatistics::screen));
    EXPECT_EQ(screened_fields(screen), screened_fields(full));
    // A screening pass's sums never merge with a full pass's (another run's block of the unit).
    EXPECT_THROW(full.merge(screen), InternalError);
    EXPECT_THROW(screen.merge(full), InternalError);
  }
}

TEST(UnitKernel, BothPassesSumAHugeDifferenceInDoubleLanes) {
  // a near 1, b near 1e35: Σ|a - b| (which only the full pass sums) would overflow a float. Both
  // passes must take the double lanes for the block (the full pass for a finite Σ|a - b|), or a
  // screening run's moments would no longer be the full run's bit for bit. (b's shifted squares
  // overflow too here; the kernel also bounds Σ|a - b| from the sums both passes take.)
  std::uint64_t s = 41;
  std::vector<float> a(kKernelBlock), b(kKernelBlock);
  for (std::size_t i = 0; i < kKernelBlock; ++i) {
    a[i] = 1.0f + random_weight(s);
    b[i] = 1e35f * (1.0f + 1e-3f * random_weight(s));
  }
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    UnitSums full(kKernelBlock), screen(kKernelBlock, PassStatistics::screen);
    full.add_block(0, a.data(), b.data(), kKernelBlock, BitEquality::float_bits);
    screen.add_block(0, a.data(), b.data(), kKernelBlock, BitEquality::float_bits);
    EXPECT_EQ(screened_fields(screen), screened_fields(full)) << "width " << static_cast<int>(width);
    EXPECT_TRUE(std::isfinite(full.s_ad));
    EXPECT_GT(full.s_ad, 1e38);
  }
}

TEST(UnitKernel, PassesReadStoredBf16AsTheirDecodedValues) {
  // add_bf16_block on the stored bytes gives add_block's sums on the decoded floats, bit for bit,
  // in a full pass (extremes, absolute differences and histograms too) and a screening one:
  // finite blocks, NaN, infinities and -0 (as BF16 stores them), a padded tail, several blocks
  // (the shift from the running means), +0 against -0 (equal values, other bits), a last block of
  // an odd number of eight-element steps, a histogram sample of every other element starting
  // inside a block, on either width.
  for (const std::uint64_t n :
       {3 * kKernelBlock + 13, 2 * kKernelBlock + 9 + 24, (std::uint64_t{1} << 18) + 3 * 4096 + 8}) {
    std::uint64_t s = 21;
    Bf16Pairs pairs(n);
    const auto &a = pairs.a, &b = pairs.b;
    const auto &fa = pairs.fa, &fb = pairs.fb;
    for (std::uint64_t i = 0; i < n; ++i) {
      float x = random_weight(s), y = next_random(s) % 3 == 0 ? x : random_weight(s);
      if (i % 97 == 5) x = 0.0f, y = -0.0f;
      if (i >= kKernelBlock && i < 2 * kKernelBlock && next_random(s) % 61 == 0) {  // one block not finite
        const float v[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(), -0.0f};
        (next_random(s) % 2 ? x : y) = v[next_random(s) % 4];
      }
      pairs.set(i, x, y);
    }
    for (const auto statistics : {PassStatistics::full, PassStatistics::screen}) {
      for (const auto width : available_widths()) {
        const WidthInUse in_use(width);
        UnitSums decoded(n, statistics), stored(n, statistics);
        // The AVX2 and AVX-512 widths read stored halves; elsewhere nothing is added and the
        // caller decodes (execute_unit).
        ASSERT_EQ(stored.reads_stored_bf16(), width != KernelWidth::portable);
        if (!stored.reads_stored_bf16()) {
          EXPECT_FALSE(stored.add_bf16_block(0, a.data(), b.data(), kKernelBlock));
          EXPECT_EQ(stored.n_ok + stored.n_bad, 0u);
          continue;
        }
        // Blocks of 4,096 from an odd start (after 9 elements), so the histogram sample of a
        // stride of 2 starts inside a block on some and at its first element on others.
        for (std::uint64_t start = 0; start < n;) {
          const auto len =
              static_cast<std::size_t>(std::min<std::uint64_t>(start == 0 ? 8 + 1 : kKernelBlock, n - start));
          decoded.add_block(start, fa.data() + start, fb.data() + start, len, BitEquality::float_bits);
          EXPECT_TRUE(stored.add_bf16_block(start, a.data() + 2 * start, b.data() + 2 * start, len));
          start += len;
        }
        EXPECT_EQ(fingerprint(stored), fingerprint(decoded)) << "n " << n << " width " << static_cast<int>(width);
        EXPECT_EQ(screened_fields(stored), screened_fields(decoded)) << "n " << n;
        EXPECT_GT(decoded.n_bad, 0u);
        EXPECT_GT(decoded.val_eq, decoded.bit_eq);
        if (statistics == PassStatistics::full) {
          EXPECT_GT(stored.n_hist, 0u);
          EXPECT_GT(stored.s_ad, 0.0);
          EXPECT_LT(stored.min_a, 0.0);
          EXPECT_GT(stored.max_b, 0.0);
        }
        EXPECT_THROW((void)stored.add_bf16_block(0, a.data(), b.data(), kKernelBlock + 1), InternalError);
      }
    }
  }
}

TEST(UnitKernel, ABlockWithOneValueNotFiniteIsPassedWithMasks) {
  // Both passes (decoded and stored BF16) sum a block as if finite and tell one that is not from
  // its float sums of squares: one NaN or infinity on either side alone, anywhere in the block,
  // must be counted as excluded on that side and leave the sums finite (the block passed with
  // masks), and the stored-BF16 pass must give the decoded pass's bits; in a full pass and a
  // screening one, on every width.
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  std::uint64_t s = 5;
  int checked = 0;
  for (int side = 0; side < 2; ++side) {
    for (const float special : specials) {
      for (const std::uint64_t at : {std::uint64_t{0}, next_random(s) % kKernelBlock, kKernelBlock - 1}) {
        Bf16Pairs pairs(kKernelBlock);
        for (std::uint64_t i = 0; i < kKernelBlock; ++i) {
          float x = random_weight(s), y = random_weight(s);
          if (i == at) (side == 0 ? x : y) = special;
          pairs.set(i, x, y);
        }
        for (const auto statistics : {PassStatistics::full, PassStatistics::screen}) {
          for (const auto width : available_widths()) {
            const WidthInUse in_use(width);
            UnitSums decoded(kKernelBlock, statistics), stored(kKernelBlock, statistics);
            decoded.add_block(0, pairs.fa.data(), pairs.fb.data(), kKernelBlock, BitEquality::float_bits);
            const auto where = ::testing::Message()
                               << "side " << side << " value " << special << " at " << at << " screen "
                               << (statistics == PassStatistics::screen) << " width " << static_cast<int>(width);
            EXPECT_EQ(decoded.n_bad, 1u) << where;
            EXPECT_EQ(side == 0 ? decoded.bad_a : decoded.bad_b, 1u) << where;
            EXPECT_EQ(decoded.n_ok, kKernelBlock - 1) << where;
            EXPECT_TRUE(std::isfinite(decoded.s_aa) && std::isfinite(decoded.s_bb)) << where;
            if (!stored.reads_stored_bf16()) continue;
            ASSERT_TRUE(stored.add_bf16_block(0, pairs.a.data(), pairs.b.data(), kKernelBlock));
            EXPECT_EQ(stored.n_bad, 1u) << where;
            EXPECT_EQ(side == 0 ? stored.bad_a : stored.bad_b, 1u) << where;
            EXPECT_TRUE(std::isfinite(stored.s_aa) && std::isfinite(stored.s_bb)) << where;
            EXPECT_EQ(fingerprint(stored), fingerprint(decoded)) << where;
            EXPECT_EQ(screened_fields(stored), screened_fields(decoded)) << where;
            ++checked;
          }
        }
      }
    }
  }
  if (kernel_width_available(KernelWidth::narrow)) {
    EXPECT_GT(checked, 0);
  }
}

TEST(UnitKernel, StoredBf16ExtremesThatAreZeroKeepTheDecodedPassSign) {
  // A block whose least a (greatest b) is zero, +0 and -0 both in it: which sign is kept depends on
  // the lane each zero lies in and on the step it comes first (every lane keeps the first of equal
  // values, the lanes fold in order), so extremes gathered in the wrong lanes show here, where
  // nonzero extremes would not. Each block on its own: add_bf16_block against add_block.
  std::uint64_t s = 77;
  int negative_min = 0, positive_min = 0;
  for (int trial = 0; trial < 64; ++trial) {
    Bf16Pairs pairs(kKernelBlock);
    for (std::uint64_t i = 0; i < kKernelBlock; ++i) {
      float x = std::fabs(random_weight(s)), y = -std::fabs(random_weight(s));
      if (next_random(s) % 300 == 0) x = next_random(s) % 2 ? 0.0f : -0.0f;
      if (next_random(s) % 300 == 0) y = next_random(s) % 2 ? 0.0f : -0.0f;
      pairs.set(i, x, y);
    }
    for (const auto width : available_widths()) {
      const WidthInUse in_use(width);
      UnitSums decoded(kKernelBlock), stored(kKernelBlock);
      if (!stored.reads_stored_bf16()) continue;
      decoded.add_block(0, pairs.fa.data(), pairs.fb.data(), kKernelBlock, BitEquality::float_bits);
      ASSERT_TRUE(stored.add_bf16_block(0, pairs.a.data(), pairs.b.data(), kKernelBlock));
      EXPECT_EQ(std::signbit(stored.min_a), std::signbit(decoded.min_a)) << "trial " << trial;
      EXPECT_EQ(std::signbit(stored.max_b), std::signbit(decoded.max_b)) << "trial " << trial;
      EXPECT_EQ(fingerprint(stored), fingerprint(decoded)) << "trial " << trial;
      EXPECT_EQ(decoded.min_a, 0.0);
      (std::signbit(decoded.min_a) ? negative_min : positive_min) += 1;
    }
  }
  if (kernel_width_available(KernelWidth::narrow)) {
    // Both signs came out (the test can tell lanes apart).
    EXPECT_GT(negative_min, 0);
    EXPECT_GT(positive_min, 0);
  }
}

TEST(UnitKernel, PassesUseTheWidestWidthUnlessOneIsChosen) {
  // The goldens above run through every width's loops only if the choice reaches the pass.
  const auto widest = available_widths().back();
  EXPECT_EQ(kernel_width_in_use(), widest);
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    EXPECT_EQ(kernel_width_in_use(), width);
  }
  EXPECT_EQ(kernel_width_in_use(), widest);
  use_kernel_width(KernelWidth::wide);  // where the machine lacks it: the widest it has
  EXPECT_EQ(kernel_width_in_use(), widest);
  EXPECT_TRUE(kernel_width_available(KernelWidth::portable));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  EXPECT_EQ(kernel_width_available(KernelWidth::narrow), __builtin_cpu_supports("x86-64-v3") != 0);
  EXPECT_EQ(kernel_width_available(KernelWidth::wide), __builtin_cpu_supports("x86-64-v4") != 0);
  if (!kernel_width_available(KernelWidth::wide)) {
    use_kernel_width(KernelWidth::narrow);
    EXPECT_EQ(kernel_width_in_use(),
              __builtin_cpu_supports("x86-64-v3") != 0 ? KernelWidth::narrow : KernelWidth::portable);
    use_kernel_width(KernelWidth::wide);
  }
#else
  EXPECT_EQ(widest, KernelWidth::portable);
#endif
}

/// 1 - cosine, 1 - centred cosine, 1 - cosine around 1 and the relative L2 of two float vectors,
/// from the sums of a pass over them in kernel blocks, and from a two-pass reference in long double.
struct NearOne {
  long double cos, pearson, init, rel_l2;
};

/// The squared relative distances behind each 1 - cosine: ||a - b||² / ||a||², the same centred,
/// and around 1.
struct Distances {
  long double raw, centred, around_one;
};

NearOne near_one_of(const UnitSums& s) {
  return {1 - static_cast<long double>(s.s_ab) / std::sqrt(static_cast<long double>(s.s_aa) * s.s_bb),
          1 - static_cast<long double>(s.c_ab) / std::sqrt(static_cast<long double>(s.m2_a) * s.m2_b),
          1 - static_cast<long double>(s.s_a1b1) / std::sqrt(static_cast<long double>(s.s_a1) * s.s_b1),
          std::sqrt(static_cast<long double>(s.s_dd) / s.s_aa)};
}

NearOne near_one_reference(const std::vector<float>& a, const std::vector<float>& b, Distances& distances) {
  long double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= a.size(), mb /= b.size();
  long double aa = 0, bb = 0, dd = 0, ca = 0, cb = 0, cd = 0, a1 = 0, b1 = 0, d1 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const long double x = a[i], y = b[i];
    aa += x * x, bb += y * y, dd += (x - y) * (x - y);
    ca += (x - ma) * (x - ma), cb += (y - mb) * (y - mb), cd += ((x - ma) - (y - mb)) * ((x - ma) - (y - mb));
    a1 += (x - 1) * (x - 1), b1 += (y - 1) * (y - 1);
  }
  d1 = dd;
  // 1 - cos from the difference's own sum, which keeps its precision near cos = 1.
  const auto one_minus = [](long double p, long double q, long double diff) {
    const long double root = std::sqrt(p) - std::sqrt(q);
    return (diff - root * root) / (2 * std::sqrt(p * q));
  };
  distances = {dd / aa, cd / ca, d1 / a1};
  return {one_minus(aa, bb, dd), one_minus(ca, cb, cd), one_minus(a1, b1, d1), std::sqrt(dd / aa)};
}

UnitSums sums_in_blocks(const std::vector<float>& a, const std::vector<float>& b) {
  UnitSums sums(a.size());
  for (std::size_t start = 0; start < a.size(); start += kKernelBlock) {
    const std::size_t len = std::min(kKernelBlock, a.size() - start);
    sums.add_block(start, a.data() + start, b.data() + start, len, BitEquality::float_bits);
  }
  return sums;
}

TEST(UnitKernel, CosinesOfNearIdenticalPairsKeepTheirPrecision) {
  // The sums are taken in float lanes within a block (unit_kernel.cpp, float_sums_into). Every
  // cosine must still tell a fine-tune from its parent: 1 - cosine may err by a few millionths of
  // the squared relative distance behind it (||a - b||² / ||a||², centred for the centred cosine),
  // which keeps its relative precision where the difference is not mostly a rescaling of a (float
  // sums of the products would err about 1e-6 absolute: at 1 - cos = 5e-7, twice the value). F32
  // weights around 0.003 and norms around 1; b = (1 - shrink) a + offset plus a perturbation of
  // relative size eps (shrink: a fine-tune that also scales its parent, as weight decay does;
  // offset: one that moves its mean). At the weights' scale, and scaled by 1e20 (squares beyond
  // float's range) and by 1e-22 (squares below its normal range), where the blocks are summed in
  // double lanes instead; on every width. Bound: 3e-5 of it, ten times the largest error seen
  // (the kernel before s_xd, whose s_bb was summed for itself, failed it).
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    for (const double scale : {1.0, 1e20, 1e-22}) {
      for (const double centre : {0.003, 1.0}) {
        for (const double offset : {0.0, 0.05}) {
          // A side rescaled by 2.5 or 0.4 (beyond the factor of 4 of the sums of squares): 1 - cos
          // errs about 1e-6 absolute there, far inside the bound of so large a distance.
          for (const double shrink : {0.0, 1e-3, 1e-2, -1.5, 0.6}) {
            for (const double eps : {1e-1, 1e-2, 1e-3, 1e-4, 1e-5}) {
              std::uint64_t s = 5;
              const std::size_t n = 5 * kKernelBlock + 13;
              std::vector<float> a(n), b(n);
              for (std::size_t i = 0; i < n; ++i) {
                const double x = centre + 0.02 * (random_weight(s) / 0.035);
                const double y = (1 - shrink) * x + offset + eps * 0.02 * (random_weight(s) / 0.035);
                a[i] = static_cast<float>(scale * x), b[i] = static_cast<float>(scale * y);
              }
              Distances distance{};
              const NearOne got = near_one_of(sums_in_blocks(a, b)), want = near_one_reference(a, b, distance);
              const auto where = ::testing::Message()
                                 << "width " << static_cast<int>(width) << " scale " << scale << " centre " << centre
                                 << " offset " << offset << " shrink " << shrink << " eps " << eps;
              // Beyond 1e-14: the double sums' own rounding (1 - cos near 1e-13). The double lanes
              // (the other scales) keep 1e-7 of it.
              const double share = scale == 1.0 ? 3e-5 : 1e-7;
              const auto close = [share](long double x, long double ref, long double squared_distance) {
                return std::fabs(x - ref) <= share * squared_distance + 1e-14;
              };
              EXPECT_PRED3(close, got.cos, want.cos, distance.raw) << where;
              EXPECT_PRED3(close, got.pearson, want.pearson, distance.centred) << where;
              // Around 1, at scale 1 only (at the others, a - 1 is -1 or a).
              if (scale == 1.0) {
                EXPECT_PRED3(close, got.init, want.init, distance.around_one) << where;
              }
              EXPECT_NEAR(static_cast<double>(got.rel_l2 / want.rel_l2), 1.0, 1e-5) << where;
            }
          }
        }
      }
    }
  }
}

TEST(UnitKernel, BlocksBeyondFloatSquaresAreSummedInDoubleLanes) {
  // Values whose float squares leave float's range (scaled by 1e20) or its normal range (1e-22)
  // are summed in double lanes instead of float ones: the cosines and the relative L2 as exact as
  // double lanes give them (float lanes would give inf, or squares lost below 1e-38), and by the
  // stored-BF16 pass as by the decoded one, bit for bit; a full pass and a screening one.
  for (const float scale : {1e20f, 1e-22f}) {
    std::uint64_t s = 31;
    const std::uint64_t n = 3 * kKernelBlock;
    Bf16Pairs pairs(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const float x = random_weight(s);
      pairs.set(i, scale * x, scale * (x + 0.05f * random_weight(s)));
    }
    Distances distance{};
    const NearOne want = near_one_reference(pairs.fa, pairs.fb, distance);
    for (const auto statistics : {PassStatistics::full, PassStatistics::screen}) {
      for (const auto width : available_widths()) {
        const WidthInUse in_use(width);
        const auto where = ::testing::Message() << "scale " << scale << " width " << static_cast<int>(width);
        UnitSums decoded(n, statistics), stored(n, statistics);
        for (std::uint64_t start = 0; start < n; start += kKernelBlock) {
          decoded.add_block(start, pairs.fa.data() + start, pairs.fb.data() + start, kKernelBlock,
                            BitEquality::float_bits);
        }
        const NearOne got = near_one_of(decoded);
        EXPECT_NEAR(static_cast<double>(got.cos / want.cos), 1.0, 1e-9) << where;
        EXPECT_NEAR(static_cast<double>(got.pearson / want.pearson), 1.0, 1e-9) << where;
        EXPECT_NEAR(static_cast<double>(got.rel_l2 / want.rel_l2), 1.0, 1e-9) << where;
        if (!stored.reads_stored_bf16()) continue;  // the portable width decodes (execute_unit)
        for (std::uint64_t start = 0; start < n; start += kKernelBlock) {
          ASSERT_TRUE(
              stored.add_bf16_block(start, pairs.a.data() + 2 * start, pairs.b.data() + 2 * start, kKernelBlock));
        }
        EXPECT_EQ(fingerprint(stored), fingerprint(decoded)) << where;
      }
    }
  }
}

void finite_and_masked_blocks_agree() {
  // A finite block takes the unmasked path; the same block followed by eight NaN pairs is counted
  // with masks, where the NaN lanes add +0 to every sum: the finite elements' sums must agree bit
  // for bit, and only the non-finite counts differ.
  std::uint64_t s = 11;
  std::vector<float> a(kKernelBlock + 8, std::numeric_limits<float>::quiet_NaN()), b = a;
  for (std::size_t i = 0; i < kKernelBlock; ++i) a[i] = random_weight(s), b[i] = random_weight(s);
  UnitSums finite(kKernelBlock), masked(kKernelBlock);
  finite.add_block(0, a.data(), b.data(), kKernelBlock, BitEquality::float_bits);
  masked.add_block(0, a.data(), b.data(), kKernelBlock + 8, BitEquality::float_bits);
  EXPECT_EQ(masked.n_bad, 8u);
  EXPECT_EQ(masked.bad_a, 8u);
  masked.n_bad = masked.bad_a = masked.bad_b = 0;
  EXPECT_EQ(fingerprint(masked), fingerprint(finite));
}

TEST(UnitKernel, FiniteAndMaskedBlocksAgree) {
  for (const auto width : available_widths()) {
    const WidthInUse in_use(width);
    finite_and_masked_blocks_agree();
  }
}

}  // namespace
}  // namespace lineage::stages
