#include "io/spilled_vector.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

#include "support/file_size_limit.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

/// What /proc/self/maps says of the mapping that holds `address`: its inode (0: anonymous) and
/// the file it maps ("" when none is named).
struct Mapping {
  std::uint64_t inode = 0;
  std::string file;
  bool found = false;
};

Mapping mapping_of(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::string perms, offset, device;
    Mapping m;
    fields >> std::hex >> begin >> dash >> end >> perms >> offset >> device >> std::dec >> m.inode;
    if (at < begin || at >= end) continue;
    std::getline(fields >> std::ws, m.file);
    m.found = true;
    return m;
  }
  return {};
}

/// The anonymous bytes of the mapping that holds `address` (/proc/self/smaps "Anonymous:", counted
/// page by page when read, unlike the process's RssAnon counter).
std::uint64_t anonymous_bytes_of(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = at >= begin && at < end;
      continue;
    }
    if (inside && line.rfind("Anonymous:", 0) == 0) {
      std::istringstream value(line.substr(10));
      std::uint64_t kib = 0;
      value >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

constexpr std::size_t kLarge = (std::size_t{16} << 20) / sizeof(double);  // 16 MiB of doubles

void fill(SpilledVector<double>& v) { std::iota(v.begin(), v.end(), 0.5); }

bool filled(const SpilledVector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != static_cast<double>(i) + 0.5) return false;
  }
  return true;
}

// With a spill folder, a large buffer is the pages of a file in that folder (a file without a
// name: nothing is left in the folder), and holding it written adds no anonymous memory; without
// one, the same buffer is anonymous memory. The contents are the same either way.
TEST(SpilledVector, ALargeBufferIsAFilesPagesInTheSpillFolderNotAnonymousMemory) {
  lineage::testing::TempDir dir;
  const auto folder = std::filesystem::canonical(dir.path());
  ASSERT_TRUE(can_spill_into(folder)) << folder << ": these tests need TMPDIR on ext4 or XFS, where buffers spill";
  {
    const SpillScope scope(folder);
    SpilledVector<double> v(kLarge);
    fill(v);
    const auto m = mapping_of(v.data());
    ASSERT_TRUE(m.found);
    EXPECT_NE(m.inode, 0u) << m.file;
    EXPECT_EQ(m.file.rfind(folder.string() + "/", 0), 0u) << m.file;
    EXPECT_EQ(anonymous_bytes_of(v.data()), 0u);
    EXPECT_TRUE(filled(v));
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(folder), {}), 0);
  }
  SpilledVector<double> v(kLarge);
  fill(v);
  EXPECT_EQ(mapping_of(v.data()).inode, 0u);
  EXPECT_GE(anonymous_bytes_of(v.data()), kLarge * sizeof(double));
  EXPECT_TRUE(filled(v));
}

// Only ext4 and XFS take spilled buffers: not tmpfs, whose reserved blocks are memory that cannot
// be dropped (a spill there would hold more than it spares), nor procfs or a missing folder.
TEST(SpilledVector, TmpfsAndOtherFileSystemsTakeNoSpilledBuffer) {
  EXPECT_FALSE(can_spill_into("/proc"));
  EXPECT_FALSE(can_spill_into("/no/such/folder"));
  if (std::filesystem::is_directory("/dev/shm")) {
    EXPECT_FALSE(can_spill_into("/dev/shm"));
    const SpillScope scope("/dev/shm");
    SpilledVector<double> v(kLarge);
    fill(v);
    EXPECT_EQ(mapping_of(v.data()).inode, 0u);
    EXPECT_TRUE(filled(v));
  }
}

// Under a file size limit (ulimit -f) smaller than a buffer, the buffer is anonymous memory and
// the process lives: a reservation past the limit would also raise SIGXFSZ, which ends it. The
// signal is left as it is here on purpose (lineage::testing::FileSizeLimit would ignore it).
TEST(SpilledVector, AFileSizeLimitBelowTheBufferGivesAnonymousMemoryAndNoSignal) {
  lineage::testing::TempDir dir;
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
  rlimit limit = before;
  limit.rlim_cur = std::size_t{1} << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  {
    const SpillScope scope(dir.path());
    SpilledVector<double> v(kLarge);
    fill(v);
    EXPECT_EQ(mapping_of(v.data()).inode, 0u);
    EXPECT_TRUE(filled(v));
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &before), 0);
}

// A vector that grows through several buffers, spilled or not, keeps what it holds, and a scope
// sets back the folder it found.
TEST(SpilledVector, GrowingMovesTheContentsBetweenSpilledBuffers) {
  lineage::testing::TempDir dir;
  const auto folder = std::filesystem::canonical(dir.path());
  ASSERT_TRUE(can_spill_into(folder)) << folder << ": these tests need TMPDIR on ext4 or XFS, where buffers spill";
  SpilledVector<double> v;
  {
    const SpillScope outer(folder);
    {
      const SpillScope inner("");
      for (std::size_t i = 0; i < kSpillMinimumBytes / sizeof(double) * 3; ++i)
        v.push_back(static_cast<double>(i) + 0.5);
      EXPECT_EQ(mapping_of(v.data()).inode, 0u);
    }
    for (std::size_t i = v.size(); i < kLarge; ++i) v.push_back(static_cast<double>(i) + 0.5);
    EXPECT_NE(mapping_of(v.data()).inode, 0u);
    EXPECT_TRUE(filled(v));
  }
  EXPECT_EQ(spill_large_buffers_to(""), std::filesystem::path());
  SpilledVector<double> copy = v;
  EXPECT_EQ(mapping_of(copy.data()).inode, 0u);
  EXPECT_TRUE(filled(copy));
  SpilledVector<double> small(10, 1.5);
  EXPECT_EQ(small[9], 1.5);
}

// A folder that cannot hold a buffer (missing, or its file system refuses the blocks: here a file
// size limit, as a full disk does) gives anonymous memory, with the same contents: a spill never
// fails a run, and no page is handed out over a block the disk did not promise.
TEST(SpilledVector, AFolderThatCannotHoldTheBufferGivesAnonymousMemory) {
  lineage::testing::TempDir dir;
  for (const bool missing : {true, false}) {
    const SpillScope scope(missing ? dir.path() / "not-there" : dir.path());
    const lineage::testing::FileSizeLimit full(std::size_t{1} << 20);
    SpilledVector<double> v(kLarge);
    fill(v);
    EXPECT_EQ(mapping_of(v.data()).inode, 0u) << missing;
    EXPECT_TRUE(filled(v)) << missing;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 0);
}

}  // namespace
}  // namespace lineage::io
