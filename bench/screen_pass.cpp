// How close to the plain pass a pass computing only the raw-byte hashes and the centred cosine
// could come (issue 12's second target: at least 1/2 of the plain pass "for hashes plus centred
// cosine alone"), before any such mode is built: the least work that mode must do, in one loop,
// against the plain summing pass over the same bytes, alternated in one run. Not part of the test
// suite.
//
// Usage: bench_screen_pass FILE_A FILE_B [ROUNDS]: two files of BF16 values of the same size (a
// shard of a model and the same shard of its fine-tune; the first MiB, where the safetensors header
// is, is left out). Each round, prints per method "<method> <GB/s wall> <wall s> <CPU s>":
//   plain        mmap + MAP_POPULATE of both files, 64-bit words summed (bench_read_bandwidth's pass)
//   hash         the same mapping, XXH3 of each side (stages::StreamHash, the product's hash)
//   cosine_f64   the same mapping, BF16 decoded and the five sums of the centred cosine (a, b,
//                a², b², ab) in double lanes, as the product's kernel keeps its sums
//   screen_f64   hash and cosine_f64 in one loop over 512 KiB chunks (the mode's least work)
//   screen_f64_zmm  screen_f64 with one conversion instruction per eight floats (AVX-512 only)
//   screen_f64_ymm  screen_f64 with the sums in four-lane double vectors, ten accumulators in
//                AVX2's sixteen registers (screen_f64's eight-lane ones spill there)
//   screen_f32   the same with the products summed in float lanes within 4,096-element blocks,
//                then in double (fewer conversions, looser sums)
//   screen_f32_128  the same within runs of 128 elements (8 values per float lane)
//   screen_pread screen_f64 with each 512 KiB chunk copied by pread, as the compare pass reads
// and the checksums, which must not change between rounds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/plain_pass.hpp"
#include "stages/execute/stream_hash.hpp"

// std::bit_cast of a 64-byte vector is a call GCC inlines; no vector value crosses a real call.
#pragma GCC diagnostic ignored "-Wpsabi"

using lineage::bench::sum_words;

namespace {

constexpr std::size_t kChunk = std::size_t{512} << 10;  // bytes a side
constexpr std::size_t kBlock = 4096;                    // elements, the product's kernel block
constexpr std::size_t kShortRun = 128;                  // elements: 8 per float lane
constexpr std::size_t kSkip = std::size_t{1} << 20;     // the safetensors header and more: not values

using u16x16 = std::uint16_t __attribute__((vector_size(32)));
using u32x16 = std::uint32_t __attribute__((vector_size(64)));
using f32x16 = float __attribute__((vector_size(64)));
using f32x8 = float __attribute__((vector_size(32)));
using f64x8 = double __attribute__((vector_size(64)));
using u16x8 = std::uint16_t __attribute__((vector_size(16)));
using u32x8 = std::uint32_t __attribute__((vector_size(32)));
using f64x4 = double __attribute__((vector_size(32)));

struct Sums {
  double a = 0, b = 0, aa = 0, bb = 0, ab = 0;
  [[nodiscard]] double centred_cosine(double n) const {
    const double ca = aa - a * a / n, cb = bb - b * b / n, cab = ab - a * b / n;
    return cab / std::sqrt(ca * cb);
  }
};

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Mapped {
  int fd = -1;
  std::size_t size = 0;
  const std::byte* data = nullptr;
};

Mapped open_file(const char* path) {
  Mapped m;
  m.fd = ::open(path, O_RDONLY);
  struct stat st {};
  if (m.fd < 0 || ::fstat(m.fd, &st) != 0) {
    std::perror(path);
    std::exit(1);
  }
  m.size = static_cast<std::size_t>(st.st_size);
  return m;
}

void map(Mapped& m) {
  void* p = ::mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, m.fd, 0);
  if (p == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  m.data = static_cast<const std::byte*>(p);
}

void unmap(Mapped& m) {
  ::munmap(const_cast<std::byte*>(m.data), m.size);
  m.data = nullptr;
}

/// Eight floats made doubles, as GCC 12 lowers the generic conversion: two of four and an insert.
struct WidenGeneric {
  [[gnu::always_inline]] f64x8 operator()(f32x8 x) const { return __builtin_convertvector(x, f64x8); }
};
/// The same in one instruction (AVX-512 only; the product's wide kernel does the same).
struct WidenOneInstruction {
  [[gnu::always_inline]] f64x8 operator()(f32x8 x) const {
    f64x8 y;
    asm("vcvtps2pd %1, %0" : "=v"(y) : "v"(x));
    return y;
  }
};

/// The five sums over n BF16 pairs (n a multiple of 16), in double lanes.
template <typename Widen>
[[gnu::always_inline]] inline void sums_f64_by(const std::byte* pa, const std::byte* pb, std::size_t n, Sums& out) {
  const Widen widen;
  f64x8 a0{}, a1{}, b0{}, b1{}, aa0{}, aa1{}, bb0{}, bb1{}, ab0{}, ab1{};
  for (std::size_t i = 0; i + 16 <= n; i += 16) {
    u16x16 ha, hb;
    std::memcpy(&ha, pa + 2 * i, sizeof ha);
    std::memcpy(&hb, pb + 2 * i, sizeof hb);
    const auto fa = std::bit_cast<f32x16>(__builtin_convertvector(ha, u32x16) << 16);
    const auto fb = std::bit_cast<f32x16>(__builtin_convertvector(hb, u32x16) << 16);
    const f64x8 xa0 = widen(__builtin_shufflevector(fa, fa, 0, 1, 2, 3, 4, 5, 6, 7));
    const f64x8 xa1 = widen(__builtin_shufflevector(fa, fa, 8, 9, 10, 11, 12, 13, 14, 15));
    const f64x8 xb0 = widen(__builtin_shufflevector(fb, fb, 0, 1, 2, 3, 4, 5, 6, 7));
    const f64x8 xb1 = widen(__builtin_shufflevector(fb, fb, 8, 9, 10, 11, 12, 13, 14, 15));
    a0 += xa0, a1 += xa1, b0 += xb0, b1 += xb1;
    aa0 += xa0 * xa0, aa1 += xa1 * xa1, bb0 += xb0 * xb0, bb1 += xb1 * xb1, ab0 += xa0 * xb0, ab1 += xa1 * xb1;
  }
  for (int k = 0; k < 8; ++k) {
    out.a += a0[k] + a1[k], out.b += b0[k] + b1[k];
    out.aa += aa0[k] + aa1[k], out.bb += bb0[k] + bb1[k], out.ab += ab0[k] + ab1[k];
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void sums_f64(const std::byte* pa,
                                                                                            const std::byte* pb,
                                                                                            std::size_t n, Sums& out) {
  sums_f64_by<WidenGeneric>(pa, pb, n, out);
}

__attribute__((target("arch=x86-64-v4"))) void sums_f64_wide(const std::byte* pa, const std::byte* pb, std::size_t n,
                                                             Sums& out) {
  sums_f64_by<WidenOneInstruction>(pa, pb, n, out);
}

/// The five sums in four-lane double vectors, eight elements a step: as many accumulators as
/// sums_f64_by, in registers of half the width, so that they stay in AVX2's sixteen.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void sums_f64_ymm(const std::byte* pa,
                                                                                                const std::byte* pb,
                                                                                                std::size_t n,
                                                                                                Sums& out) {
  f64x4 a0{}, a1{}, b0{}, b1{}, aa0{}, aa1{}, bb0{}, bb1{}, ab0{}, ab1{};
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    u16x8 ha, hb;
    std::memcpy(&ha, pa + 2 * i, sizeof ha);
    std::memcpy(&hb, pb + 2 * i, sizeof hb);
    const auto fa = std::bit_cast<f32x8>(__builtin_convertvector(ha, u32x8) << 16);
    const auto fb = std::bit_cast<f32x8>(__builtin_convertvector(hb, u32x8) << 16);
    const f64x4 xa0 = __builtin_convertvector(__builtin_shufflevector(fa, fa, 0, 1, 2, 3), f64x4);
    const f64x4 xa1 = __builtin_convertvector(__builtin_shufflevector(fa, fa, 4, 5, 6, 7), f64x4);
    const f64x4 xb0 = __builtin_convertvector(__builtin_shufflevector(fb, fb, 0, 1, 2, 3), f64x4);
    const f64x4 xb1 = __builtin_convertvector(__builtin_shufflevector(fb, fb, 4, 5, 6, 7), f64x4);
    a0 += xa0, a1 += xa1, b0 += xb0, b1 += xb1;
    aa0 += xa0 * xa0, aa1 += xa1 * xa1, bb0 += xb0 * xb0, bb1 += xb1 * xb1, ab0 += xa0 * xb0, ab1 += xa1 * xb1;
  }
  for (int k = 0; k < 4; ++k) {
    out.a += a0[k] + a1[k], out.b += b0[k] + b1[k];
    out.aa += aa0[k] + aa1[k], out.bb += bb0[k] + bb1[k], out.ab += ab0[k] + ab1[k];
  }
}

/// The same sums in float lanes within runs of `Run` elements (16 lanes of Run / 16 each), then in
/// double.
template <std::size_t Run>
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void sums_f32(const std::byte* pa,
                                                                                            const std::byte* pb,
                                                                                            std::size_t n, Sums& out) {
  for (std::size_t first = 0; first < n; first += Run) {
    const std::size_t end = std::min(n, first + Run);
    f32x16 a{}, b{}, aa{}, bb{}, ab{};
    for (std::size_t i = first; i + 16 <= end; i += 16) {
      u16x16 ha, hb;
      std::memcpy(&ha, pa + 2 * i, sizeof ha);
      std::memcpy(&hb, pb + 2 * i, sizeof hb);
      const auto fa = std::bit_cast<f32x16>(__builtin_convertvector(ha, u32x16) << 16);
      const auto fb = std::bit_cast<f32x16>(__builtin_convertvector(hb, u32x16) << 16);
      a += fa, b += fb, aa += fa * fa, bb += fb * fb, ab += fa * fb;
    }
    for (int k = 0; k < 16; ++k) out.a += a[k], out.b += b[k], out.aa += aa[k], out.bb += bb[k], out.ab += ab[k];
  }
}

struct Outcome {
  double seconds = 0, cpu = 0;
  double check = 0;
};

enum class Method {
  plain,
  hash,
  cosine_f64,
  screen_f64,
  screen_f64_wide,
  screen_f64_ymm,
  screen_f32,
  screen_f32_short,
  screen_pread
};

Outcome run(Method method, Mapped& fa, Mapped& fb) {
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  Outcome out;
  const std::size_t size = std::min(fa.size, fb.size) / 32 * 32 - kSkip;
  std::vector<std::byte> buffer_a, buffer_b;
  if (method == Method::screen_pread) {
    buffer_a.resize(kChunk), buffer_b.resize(kChunk);
  } else {
    map(fa), map(fb);
  }
  lineage::stages::StreamHash hash_a, hash_b;
  Sums sums;
  std::uint64_t words = 0;
  for (std::size_t off = 0; off < size; off += kChunk) {
    const std::size_t len = std::min(kChunk, size - off);
    const std::byte* pa = fa.data ? fa.data + kSkip + off : buffer_a.data();
    const std::byte* pb = fb.data ? fb.data + kSkip + off : buffer_b.data();
    switch (method) {
      case Method::plain:
        words += sum_words(pa, len) + sum_words(pb, len);
        break;
      case Method::hash:
        hash_a.update(pa, len), hash_b.update(pb, len);
        break;
      case Method::cosine_f64:
        sums_f64(pa, pb, len / 2, sums);
        break;
      case Method::screen_pread:
        if (::pread(fa.fd, buffer_a.data(), len, static_cast<off_t>(kSkip + off)) != static_cast<ssize_t>(len) ||
            ::pread(fb.fd, buffer_b.data(), len, static_cast<off_t>(kSkip + off)) != static_cast<ssize_t>(len)) {
          std::perror("pread");
          std::exit(1);
        }
        [[fallthrough]];
      case Method::screen_f64:
        hash_a.update(pa, len), hash_b.update(pb, len);
        sums_f64(pa, pb, len / 2, sums);
        break;
      case Method::screen_f64_wide:
        hash_a.update(pa, len), hash_b.update(pb, len);
        sums_f64_wide(pa, pb, len / 2, sums);
        break;
      case Method::screen_f64_ymm:
        hash_a.update(pa, len), hash_b.update(pb, len);
        sums_f64_ymm(pa, pb, len / 2, sums);
        break;
      case Method::screen_f32:
        hash_a.update(pa, len), hash_b.update(pb, len);
        sums_f32<kBlock>(pa, pb, len / 2, sums);
        break;
      case Method::screen_f32_short:
        hash_a.update(pa, len), hash_b.update(pb, len);
        sums_f32<kShortRun>(pa, pb, len / 2, sums);
        break;
    }
  }
  if (method != Method::screen_pread) unmap(fa), unmap(fb);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.cpu = cpu_seconds() - c0;
  const double n = static_cast<double>(size / 2);
  out.check = method == Method::plain  ? static_cast<double>(words & 0xffff)
              : method == Method::hash ? static_cast<double>((hash_a.digest() ^ hash_b.digest()) & 0xffff)
                                       : sums.centred_cosine(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: bench_screen_pass FILE_A FILE_B [ROUNDS]\n");
    return 2;
  }
  Mapped fa = open_file(argv[1]), fb = open_file(argv[2]);
  const int rounds = argc == 4 ? std::atoi(argv[3]) : 3;
  const std::size_t bytes = (std::min(fa.size, fb.size) / 32 * 32 - kSkip) * 2;
  const std::pair<Method, const char*> methods[] = {{Method::plain, "plain"},
                                                    {Method::hash, "hash"},
                                                    {Method::cosine_f64, "cosine_f64"},
                                                    {Method::screen_f64, "screen_f64"},
                                                    {Method::screen_f64_wide, "screen_f64_zmm"},
                                                    {Method::screen_f64_ymm, "screen_f64_ymm"},
                                                    {Method::screen_f32, "screen_f32"},
                                                    {Method::screen_f32_short, "screen_f32_128"},
                                                    {Method::screen_pread, "screen_pread"}};
  (void)run(Method::plain, fa, fb);  // the page cache warm with the same bytes
  const bool wide = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  for (int r = 0; r < rounds; ++r) {
    for (const auto& [method, name] : methods) {
      if (method == Method::screen_f64_wide && !wide) continue;
      const auto o = run(method, fa, fb);
      std::printf("%-14s %6.2f GB/s  wall %.3f s  cpu %.3f s  (check %.12g)\n", name,
                  static_cast<double>(bytes) / o.seconds / 1e9, o.seconds, o.cpu, o.check);
    }
  }
  ::close(fa.fd);
  ::close(fb.fd);
  return 0;
}
