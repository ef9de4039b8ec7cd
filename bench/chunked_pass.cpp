// Whether the pass would gain from reading a unit in chunks that stay in cache, before the
// product is changed for it (docs/benchmarks.md, "2026-12-04 evening"). The pass of one unit as
// execute_unit makes it for consecutive BF16 sides (XXH3 of the stored bytes by stages::StreamHash, BF16 decode,
// UnitSums::add_block per kernel block), over two 1 GiB files of N(0, 0.02) BF16 values, with
// each 8 MiB unit read by pread either whole before the pass (what the executor does) or in
// chunks of 2 MiB down to 128 KiB, each passed before the next is read. The chunk sizes' runs
// alternate, three rounds. Not part of the test suite. Usage: bench_chunked_pass DIR (the two
// files are made there once, 2 GiB; reused after). Prints per round and chunk size:
// "chunk <KiB> KiB a side: <s> s, <GB/s>" and the sums' checksum, which must not change.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "io/dtype_decode.hpp"
#include "stages/execute/stream_hash.hpp"
#include "stages/execute/unit_kernel.hpp"

namespace {

using namespace lineage;

constexpr std::size_t kElements = std::size_t{1} << 29;  // a side: 1 GiB of BF16
constexpr std::size_t kUnit = std::size_t{4} << 20;      // elements: 8 MiB a side

/// Writes `path` (kElements BF16 values of N(0, 0.02)) unless it exists with that size.
bool make_file(const std::filesystem::path& path, unsigned seed) {
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) == kElements * 2 && !ec) return true;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 0.02f);
  std::vector<std::uint16_t> values(std::size_t{1} << 20);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = true;
  for (std::size_t done = 0; done < kElements && ok; done += values.size()) {
    for (auto& v : values) v = io::float_to_bf16(normal(rng));
    ok = std::fwrite(values.data(), 2, values.size(), f) == values.size();
  }
  return std::fclose(f) == 0 && ok;
}

/// Reads [offset, offset + bytes) of fd into out, whole.
bool read_exactly(int fd, std::byte* out, std::size_t bytes, std::size_t offset) {
  for (std::size_t done = 0; done < bytes;) {
    const auto got = pread(fd, out + done, bytes - done, static_cast<off_t>(offset + done));
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_chunked_pass DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const auto path_a = dir / "chunked_pass_a.bf16", path_b = dir / "chunked_pass_b.bf16";
  if (!make_file(path_a, 1) || !make_file(path_b, 2)) {
    std::fprintf(stderr, "bench_chunked_pass: cannot write %s\n", dir.c_str());
    return 1;
  }
  const int fa = open(path_a.c_str(), O_RDONLY), fb = open(path_b.c_str(), O_RDONLY);
  if (fa < 0 || fb < 0) return 1;
  std::vector<std::byte> buffer_a(kUnit * 2), buffer_b(kUnit * 2);
  std::vector<float> decoded_a(stages::kKernelBlock), decoded_b(stages::kKernelBlock);
  const std::size_t chunks[] = {kUnit, std::size_t{1} << 20, std::size_t{1} << 18, std::size_t{1} << 16};
  for (int round = 0; round < 3; ++round) {
    for (const std::size_t chunk : chunks) {
      const auto t0 = std::chrono::steady_clock::now();
      double checksum = 0;
      for (std::size_t unit = 0; unit < kElements; unit += kUnit) {
        stages::UnitSums sums(kUnit);
        stages::StreamHash hash_a, hash_b;
        for (std::size_t first = 0; first < kUnit; first += chunk) {
          const std::size_t offset = (unit + first) * 2;
          if (!read_exactly(fa, buffer_a.data(), chunk * 2, offset) ||
              !read_exactly(fb, buffer_b.data(), chunk * 2, offset)) {
            std::fprintf(stderr, "bench_chunked_pass: short read\n");
            return 1;
          }
          for (std::size_t k = 0; k < chunk; k += stages::kKernelBlock) {
            const std::size_t len = stages::kKernelBlock;
            const std::byte* stored_a = buffer_a.data() + 2 * k;
            const std::byte* stored_b = buffer_b.data() + 2 * k;
            hash_a.update(stored_a, 2 * len);
            hash_b.update(stored_b, 2 * len);
            io::decode_to_float(Dtype::BF16, std::span<const std::byte>(stored_a, 2 * len),
                                std::span<float>(decoded_a.data(), len));
            io::decode_to_float(Dtype::BF16, std::span<const std::byte>(stored_b, 2 * len),
                                std::span<float>(decoded_b.data(), len));
            sums.add_block(first + k, decoded_a.data(), decoded_b.data(), len, stages::BitEquality::float_bits);
          }
        }
        checksum += sums.s_ab + static_cast<double>((hash_a.digest() ^ hash_b.digest()) & 0xff);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("chunk %5zu KiB a side: %.3f s, %.2f GB/s (checksum %.9g)\n", chunk * 2 / 1024, seconds,
                  4.0 * static_cast<double>(kElements) / seconds / 1e9, checksum);
    }
  }
  close(fa);
  close(fb);
  return 0;
}
