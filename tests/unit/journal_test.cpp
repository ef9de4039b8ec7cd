#include "io/journal/journal.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

TEST(Journal, RecordsRoundTripAndAppendAcrossReopen) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "rank-0.journal";
  {
    JournalWriter w(path);
    w.append(7, bytes_of("seven"));
    w.append(3, {});
    w.sync();
  }
  {
    JournalWriter w(path);
    w.append(11, bytes_of("eleven"));
    w.sync();
  }
  const auto got = read_journal(path);
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_EQ(got.records[0].unit_id, 7u);
  EXPECT_EQ(got.records[0].payload, bytes_of("seven"));
  EXPECT_TRUE(got.records[1].payload.empty());
  EXPECT_EQ(got.records[2].unit_id, 11u);
  EXPECT_EQ(got.dropped_bytes, 0u);
  EXPECT_TRUE(read_journal(dir.path() / "absent").records.empty());
}

// A journal of several megabytes is read in pieces: records that straddle the reader's buffer,
// one larger than the buffer, unit and block records mixed, each passed once, whole and in file
// order with where its payload lies; a torn last record is dropped, not passed.
TEST(Journal, AScanReadsALargeJournalInPiecesRecordByRecord) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "r0.jrn";
  const auto payload_of = [](std::uint64_t i) {
    const std::size_t size = i == 1500 ? (3u << 20) : 500 + (i * 7919) % 2600;  // record 1500: 3 MiB
    std::vector<std::byte> p(size);
    for (std::size_t k = 0; k < size; ++k) p[k] = static_cast<std::byte>((i * 31 + k * 7) & 0xff);
    return p;
  };
  constexpr std::uint64_t kRecords = 4000;
  {
    JournalWriter w(path);
    for (std::uint64_t i = 0; i < kRecords; ++i) {
      if (i % 3 == 0) {
        w.append_block(i, i % 5, payload_of(i));
      } else {
        w.append(i, payload_of(i));
      }
    }
    w.sync();
  }
  const auto whole = std::filesystem::file_size(path);
  ASSERT_GT(whole, 8u << 20);
  std::filesystem::resize_file(path, whole - 5);  // the last record torn
  std::uint64_t next = 0;
  const auto extent = scan_journal(path, [&](const JournalRecordView& r) {
    ASSERT_EQ(r.unit_id, next);
    EXPECT_EQ(r.block.has_value(), next % 3 == 0);
    if (r.block) {
      EXPECT_EQ(*r.block, next % 5);
    }
    const auto want = payload_of(next);
    ASSERT_EQ(r.payload.size(), want.size()) << next;
    EXPECT_TRUE(std::equal(want.begin(), want.end(), r.payload.begin())) << next;
    JournalRecord where;
    where.unit_id = r.unit_id;
    where.block = r.block;
    where.payload_offset = r.payload_offset;
    where.payload_size = r.payload.size();
    if (next % 500 == 7) {
      EXPECT_EQ(read_journal_payload(path, where), want) << next;
    }
    ++next;
  });
  EXPECT_EQ(next, kRecords - 1);
  EXPECT_EQ(extent.valid_bytes + extent.dropped_bytes, whole - 5);
  // The last record is a block record: magic, id, block, length, payload, checksum.
  static_assert((kRecords - 1) % 3 == 0);
  EXPECT_EQ(extent.dropped_bytes, 4 + 8 + 8 + 8 + payload_of(kRecords - 1).size() + 8 - 5);
}

TEST(Journal, EveryTruncationPointKeepsExactlyTheCompleteRecords) {
  lineage::testing::TempDir dir;
  const auto full = dir.path() / "full";
  {
    JournalWriter w(full);
    w.append(1, bytes_of("first record"));
    w.append(2, bytes_of("second"));
    w.sync();
  }
  const auto size = std::filesystem::file_size(full);
  const std::uintmax_t first_end = 4 + 8 + 8 + 12 + 8;  // magic, id, length, payload, checksum
  for (std::uintmax_t cut = 0; cut <= size; ++cut) {
    const auto part = dir.path() / ("cut-" + std::to_string(cut));
    std::filesystem::copy_file(full, part);
    std::filesystem::resize_file(part, cut);
    const auto got = read_journal(part);
    const std::size_t expected = cut == size ? 2 : (cut >= first_end ? 1 : 0);
    ASSERT_EQ(got.records.size(), expected) << "cut at " << cut;
    EXPECT_EQ(got.valid_bytes + got.dropped_bytes, cut);
    // Reopening for append cuts the torn tail, so a new record is readable after it.
    {
      JournalWriter w(part);
      w.append(99, bytes_of("after"));
      w.sync();
    }
    const auto again = read_journal(part);
    ASSERT_EQ(again.records.size(), expected + 1) << "cut at " << cut;
    EXPECT_EQ(again.records.back().unit_id, 99u);
  }
}

TEST(Journal, CorruptedPayloadIsDetected) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "j";
  {
    JournalWriter w(path);
    w.append(1, bytes_of("aaaa"));
    w.append(2, bytes_of("bbbb"));
    w.sync();
  }
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4 + 8 + 8 + 4 + 8 + 4 + 8 + 8 + 1);  // a byte inside the second payload
    f.put('X');
  }
  const auto got = read_journal(path);
  ASSERT_EQ(got.records.size(), 1u);
  EXPECT_GT(got.dropped_bytes, 0u);
}

TEST(Journal, BlockRecordsStayApartFromUnitRecordsAndReadBackOneByOne) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "r0.jrn";
  const std::vector<std::byte> payload{std::byte{1}, std::byte{2}};
  {
    JournalWriter w(path);
    w.append(7, payload);
    w.append_block(7, 3, payload);
    w.append_block(8, 0, {});
    w.sync();
  }
  auto got = read_journal(path);
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_FALSE(got.records[0].block.has_value());
  ASSERT_TRUE(got.records[1].block.has_value());
  EXPECT_EQ(*got.records[1].block, 3u);
  EXPECT_EQ(got.records[1].unit_id, 7u);
  EXPECT_EQ(got.records[1].payload, payload);
  EXPECT_EQ(*got.records[2].block, 0u);
  // Block payloads left on disk, read back one record at a time and checked.
  const auto lean = read_journal(path, JournalPayloads::unit_records);
  ASSERT_EQ(lean.records.size(), 3u);
  EXPECT_EQ(lean.records[0].payload, payload);
  EXPECT_TRUE(lean.records[1].payload.empty());
  EXPECT_EQ(lean.records[1].payload_size, payload.size());
  EXPECT_EQ(read_journal_payload(path, lean.records[1]), payload);
  EXPECT_TRUE(read_journal_payload(path, lean.records[2]).empty());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(lean.records[1].payload_offset));
    f.put('\x7f');
  }
  EXPECT_THROW((void)read_journal_payload(path, lean.records[1]), StoreError);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(lean.records[1].payload_offset));
    f.put('\x01');
  }
  // A torn block record at the tail is dropped, and cut away when the journal is reopened.
  const auto intact = std::filesystem::file_size(path);
  {
    JournalWriter w(path);
    w.append_block(9, 1, payload);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  got = read_journal(path);
  EXPECT_EQ(got.records.size(), 3u);
  EXPECT_EQ(got.valid_bytes, intact);
  { JournalWriter w(path); }
  EXPECT_EQ(std::filesystem::file_size(path), intact);
}

}  // namespace
}  // namespace lineage::io
