// The machine's read bandwidth for given files: one plain summing pass over all their bytes (64-bit
// words, four independent sums), read four ways: mmap + MAP_POPULATE, pread into a 4 MB aligned
// buffer, first-touch mmap, and pread into 4 MB buffers on a second thread while this one sums. The bound `lineage
// compare` is measured against (scripts/bench-compare.sh, docs/benchmarks.md). Not part of the test suite. Usage:
// bench_read_bandwidth FILE... ; prints one line per method:
// "<method> <GB/s> <wall seconds> <CPU seconds, user + system>".
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/plain_pass.hpp"

using lineage::bench::sum_words;

namespace {

int open_or_die(const char* path, std::size_t& size) {
  const int fd = ::open(path, O_RDONLY);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::perror(path);
    std::exit(1);
  }
  size = static_cast<std::size_t>(st.st_size);
  return fd;
}

std::uint64_t by_mmap(const char* path, int extra_flags, std::size_t& bytes) {
  std::size_t size = 0;
  const int fd = open_or_die(path, size);
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | extra_flags, fd, 0);
  if (m == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  const auto s = sum_words(static_cast<const unsigned char*>(m), size);
  ::munmap(m, size);
  ::close(fd);
  bytes += size;
  return s;
}

std::uint64_t by_pread(const char* path, std::size_t& bytes) {
  constexpr std::size_t kBuffer = 4u << 20;
  static unsigned char* buf = static_cast<unsigned char*>(std::aligned_alloc(4096, kBuffer));
  std::size_t size = 0;
  const int fd = open_or_die(path, size);
  std::uint64_t s = 0;
  for (std::size_t off = 0; off < size;) {
    const auto got = ::pread(fd, buf, kBuffer, static_cast<off_t>(off));
    if (got <= 0) {
      std::perror("pread");
      std::exit(1);
    }
    s += sum_words(buf, static_cast<std::size_t>(got));
    off += static_cast<std::size_t>(got);
  }
  ::close(fd);
  bytes += size;
  return s;
}

/// pread into 4 MB aligned buffers on a second thread, summed on this one: the read of block i + 1
/// overlaps the sum of block i (three buffers in flight).
std::uint64_t by_pread_readahead(const std::vector<const char*>& paths, std::size_t& bytes) {
  constexpr std::size_t kBuffer = 4u << 20;
  constexpr std::size_t kBuffers = 3;
  struct Block {
    unsigned char* data;
    std::size_t size;
  };
  std::vector<unsigned char*> free_buffers;
  for (std::size_t i = 0; i < kBuffers; ++i) {
    free_buffers.push_back(static_cast<unsigned char*>(std::aligned_alloc(4096, kBuffer)));
  }
  std::deque<Block> ready;
  bool finished = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::thread reader([&] {
    for (const char* path : paths) {
      std::size_t size = 0;
      const int fd = open_or_die(path, size);
      for (std::size_t off = 0; off < size;) {
        unsigned char* buf = nullptr;
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return !free_buffers.empty(); });
          buf = free_buffers.back();
          free_buffers.pop_back();
        }
        const auto got = ::pread(fd, buf, kBuffer, static_cast<off_t>(off));
        if (got <= 0) {
          std::perror("pread");
          std::exit(1);
        }
        off += static_cast<std::size_t>(got);
        {
          const std::lock_guard lock(mutex);
          ready.push_back({buf, static_cast<std::size_t>(got)});
        }
        changed.notify_all();
      }
      ::close(fd);
      bytes += size;
    }
    {
      const std::lock_guard lock(mutex);
      finished = true;
    }
    changed.notify_all();
  });
  std::uint64_t s = 0;
  for (;;) {
    Block b{};
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return !ready.empty() || finished; });
      if (ready.empty()) break;
      b = ready.front();
      ready.pop_front();
    }
    s += sum_words(b.data, b.size);
    {
      const std::lock_guard lock(mutex);
      free_buffers.push_back(b.data);
    }
    changed.notify_all();
  }
  reader.join();
  for (auto* buf : free_buffers) std::free(buf);
  return s;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE...\n", argv[0]);
    return 2;
  }
  struct Method {
    const char* name;
    int kind;  // 0 populate, 1 pread, 2 first-touch, 3 pread with read-ahead on a second thread
  };
  const Method methods[] = {
      {"mmap_populate", 0}, {"pread_4MB", 1}, {"mmap_first_touch", 2}, {"pread_4MB_readahead", 3}};
  const std::vector<const char*> paths(argv + 1, argv + argc);
  std::uint64_t check = 0;
  for (const auto& m : methods) {
    std::size_t bytes = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    if (m.kind == 3) check += by_pread_readahead(paths, bytes);
    for (int i = 1; i < argc && m.kind != 3; ++i) {
      if (m.kind == 1)
        check += by_pread(argv[i], bytes);
      else
        check += by_mmap(argv[i], m.kind == 0 ? MAP_POPULATE : 0, bytes);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s %.2f %.3f %.3f\n", m.name, static_cast<double>(bytes) / s / 1e9, s, cpu_seconds() - c0);
  }
  std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(check));
  return 0;
}
