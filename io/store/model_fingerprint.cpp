#include "io/store/model_fingerprint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/errors.hpp"
#include "io/safetensors_header.hpp"

namespace lineage::io {
namespace {

/// Blocks of the data region hashed beside the header: two models with the same architecture
/// have equal headers, so the fingerprint must also see some of the weights. 16 blocks of 4 KiB
/// at evenly spaced offsets cost 16 reads per shard whatever its size.
constexpr std::uint64_t kSampleBlocks = 16;
constexpr std::uint64_t kSampleBytes = 4096;

std::uint64_t content_hash(const SafetensorsHeader& h) {
  const auto data_begin = 8 + h.header_length;
  const auto data_size = h.file_size > data_begin ? h.file_size - data_begin : 0;
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &h.header_hash, sizeof h.header_hash);
  const int fd = ::open(h.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    XXH3_freeState(st);
    throw InputError(h.path.string(), std::string("cannot open for fingerprinting: ") + std::strerror(errno));
  }
  std::vector<char> buf(kSampleBytes);
  const auto span = data_size > kSampleBytes ? data_size - kSampleBytes : 0;
  for (std::uint64_t k = 0; k < kSampleBlocks && data_size > 0; ++k) {
    const auto offset = data_begin + span * k / (kSampleBlocks - 1);
    const auto want = std::min<std::uint64_t>(kSampleBytes, data_size);
    const auto got = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
    if (got != static_cast<ssize_t>(want)) {
      ::close(fd);
      XXH3_freeState(st);
      throw InputError(h.path.string(), "short read while fingerprinting", "", offset);
    }
    XXH3_64bits_update(st, buf.data(), want);
  }
  ::close(fd);
  const auto hash = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return hash;
}

}  // namespace

StoredModel fingerprint_model(const std::string& label, const std::filesystem::path& dir,
                              const std::vector<std::string>& shard_files) {
  StoredModel m;
  m.label = label;
  m.path = std::filesystem::absolute(dir).lexically_normal().string();
  for (const auto& f : shard_files) {
    const auto h = read_safetensors_header(dir / f);
    m.shard_files.push_back(f);
    m.shard_sizes.push_back(h.file_size);
    m.header_hashes.push_back(content_hash(h));
    struct stat st {};
    if (::stat((dir / f).c_str(), &st) != 0) {
      throw InputError((dir / f).string(), std::string("cannot stat: ") + std::strerror(errno));
    }
    m.shard_mtimes_ns.push_back(static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
  }
  return m;
}

}  // namespace lineage::io
