// The machine's read bandwidth for given files: one plain summing pass over all their bytes (64-bit
// words, four independent sums), read four ways: mmap + MAP_POPULATE, pread into a 4 MB aligned
// buffer, first-touch mmap, and pread into 4 MB buffers on a second thread while this one sums. The bound `lineage
// compare` is measured against (scripts/bench-compare.sh, docs/benchmarks.md). Not part of the test suite. Usage:
// bench_read_bandwidth FILE... ; prints one line per method:
// "<method> <GB/s> <wall seconds> <CPU seconds, user + system>".
//
// Then what two processes at once get from this machine, the ceiling of 2 ranks against 1
// (issue 12 asks 1.8x): the populate and pread passes again, each of two processes summing half of
// every file ("<method>_2proc", CPU of both), and an arithmetic loop over a buffer in L1 (no memory
// traffic; "arith_1proc" and "arith_2proc", each process the same fixed work, so the second's
// rate is the sum of both). Where two virtual CPUs share one physical core, the arithmetic loop
// shows it: two processes then get far less than twice one.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include <utility>
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

/// Which part of each file a process reads: part `index` of `parts` ranges of about equal size,
/// starting on page boundaries (mmap's offsets must). A part may be empty (a file of few pages).
struct Part {
  std::size_t index = 0;
  std::size_t parts = 1;
  [[nodiscard]] std::size_t begin(std::size_t size) const { return page_floor(size / parts * index); }
  [[nodiscard]] std::size_t end(std::size_t size) const {
    return index + 1 == parts ? size : page_floor(size / parts * (index + 1));
  }
  static std::size_t page_floor(std::size_t x) {
    static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return x / page * page;
  }
};

std::uint64_t by_mmap(const char* path, int extra_flags, std::size_t& bytes, Part part = {}) {
  std::size_t size = 0;
  const int fd = open_or_die(path, size);
  const auto begin = part.begin(size), length = part.end(size) - begin;
  if (length == 0) {  // mmap refuses an empty range
    ::close(fd);
    return 0;
  }
  void* m = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE | extra_flags, fd, static_cast<off_t>(begin));
  if (m == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  const auto s = sum_words(static_cast<const unsigned char*>(m), length);
  ::munmap(m, length);
  ::close(fd);
  bytes += length;
  return s;
}

std::uint64_t by_pread(const char* path, std::size_t& bytes, Part part = {}) {
  constexpr std::size_t kBuffer = 4u << 20;
  static unsigned char* buf = static_cast<unsigned char*>(std::aligned_alloc(4096, kBuffer));
  std::size_t size = 0;
  const int fd = open_or_die(path, size);
  std::uint64_t s = 0;
  const auto end = part.end(size);
  for (std::size_t off = part.begin(size); off < end;) {
    const auto got = ::pread(fd, buf, std::min(kBuffer, end - off), static_cast<off_t>(off));
    if (got <= 0) {
      std::perror("pread");
      std::exit(1);
    }
    s += sum_words(buf, static_cast<std::size_t>(got));
    off += static_cast<std::size_t>(got);
    bytes += static_cast<std::size_t>(got);
  }
  ::close(fd);
  return s;
}

/// Where arith_loop's result goes: stored, so the loop is kept.
volatile float arith_result = 0;

/// One file (or its part) by method `kind` 0 (populate), 1 (pread) or 2 (first touch).
std::uint64_t one_file(int kind, const char* path, std::size_t& bytes, Part part = {}) {
  return kind == 1 ? by_pread(path, bytes, part) : by_mmap(path, kind == 0 ? MAP_POPULATE : 0, bytes, part);
}

/// Products and sums over 4,096 floats (16 KiB, in L1) repeated `rounds` times: arithmetic without
/// memory traffic. Eight independent vector sums, so the loop is bound by the arithmetic units, not
/// by one sum's latency: the units two threads of one core would share.
float arith_loop(std::size_t rounds) {
  using f32x4 = float __attribute__((vector_size(16)));
  static f32x4 values[1024];
  for (std::size_t i = 0; i < 1024; ++i) values[i] = f32x4{1.0f, 1.001f, 1.002f, 1.003f};
  f32x4 s0{}, s1{}, s2{}, s3{}, s4{}, s5{}, s6{}, s7{};
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < 1024; i += 8) {
      s0 += values[i] * values[i];
      s1 += values[i + 1] * values[i + 1];
      s2 += values[i + 2] * values[i + 2];
      s3 += values[i + 3] * values[i + 3];
      s4 += values[i + 4] * values[i + 4];
      s5 += values[i + 5] * values[i + 5];
      s6 += values[i + 6] * values[i + 6];
      s7 += values[i + 7] * values[i + 7];
    }
    // The values may have changed as far as the compiler knows, so rounds are not folded together;
    // the sums, whose address is never taken, stay in registers.
    asm volatile("" : : "r"(values) : "memory");
  }
  const f32x4 v = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
  const float t = v[0] + v[1] + v[2] + v[3];
  return t;
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

double cpu_seconds(int who = RUSAGE_SELF) {
  rusage u{};
  ::getrusage(who, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

/// Runs `work(index)` in `processes` child processes at once and waits for all; each child writes
/// what it read (bytes, or units of work) to a pipe. Returns the sum and the children's CPU seconds.
template <typename Work>
std::pair<std::size_t, double> in_processes(std::size_t processes, Work work) {
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(1);
  }
  const double c0 = cpu_seconds(RUSAGE_CHILDREN);
  for (std::size_t i = 0; i < processes; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      std::exit(1);
    }
    if (pid == 0) {
      ::close(fds[0]);
      const std::size_t done = work(i);
      if (::write(fds[1], &done, sizeof done) != sizeof done) std::_Exit(1);
      std::_Exit(0);
    }
  }
  ::close(fds[1]);
  std::size_t total = 0;
  for (std::size_t i = 0; i < processes; ++i) {
    int status = 0;
    if (::wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "a child process failed\n");
      std::exit(1);
    }
  }
  for (std::size_t i = 0; i < processes; ++i) {
    std::size_t done = 0;
    if (::read(fds[0], &done, sizeof done) != sizeof done) {
      std::fprintf(stderr, "a child process reported nothing\n");
      std::exit(1);
    }
    total += done;
  }
  ::close(fds[0]);
  return {total, cpu_seconds(RUSAGE_CHILDREN) - c0};
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
    for (int i = 1; i < argc && m.kind != 3; ++i) check += one_file(m.kind, argv[i], bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s %.2f %.3f %.3f\n", m.name, static_cast<double>(bytes) / s / 1e9, s, cpu_seconds() - c0);
  }
  std::fflush(stdout);  // before the children fork: their copies of stdout's buffer stay empty
  // Two processes at once, each half of every file; the rate is both processes' bytes by the wall.
  for (const auto& m : {methods[0], methods[1]}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [bytes, cpu] = in_processes(2, [&](std::size_t index) {
      std::size_t read = 0;
      std::uint64_t sum = 0;
      for (const char* path : paths) {
        sum += one_file(m.kind, path, read, {index, 2});
      }
      asm volatile("" : : "r"(sum));
      return read;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s_2proc %.2f %.3f %.3f\n", m.name, static_cast<double>(bytes) / s / 1e9, s, cpu);
    std::fflush(stdout);
  }
  // The arithmetic loop: each process the same work; "GB/s" here is billions of products and sums a second.
  constexpr std::size_t kArithRounds = 3'000'000;  // 12 billion products and sums: under a second here
  for (std::size_t processes : {1, 2}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [done, cpu] = in_processes(processes, [&](std::size_t) {
      arith_result = arith_loop(kArithRounds);
      return kArithRounds * 4096;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("arith_%zuproc %.2f %.3f %.3f\n", processes, static_cast<double>(done) / s / 1e9, s, cpu);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "checksum %llu\n", static_cast<unsigned long long>(check));
  return 0;
}
