#pragma once
/// @file journal.hpp
/// Append-only record files that make runs resumable. Each rank appends one record per finished
/// unit of work. Two kinds of record:
/// - a unit record: [magic "LJRN" u32][unit id u64][payload length u64][payload][xxh3-64 u64 of
///   id, length and payload], a whole unit's outcome;
/// - a block record: [magic "LJRB" u32][unit id u64][block index u64][payload length u64][payload]
///   [xxh3-64 u64 of id, block index, length and payload], one row block of a unit split across
///   ranks (stages/plan/row_blocks.hpp), merged into the unit's outcome once all its blocks are in. A process killed at
///   any byte leaves a file whose complete records
/// all read back; a torn or corrupt tail is detected by the checksum and ignored (and truncated
/// away when the journal is reopened for appending). Records are opaque bytes: stages/ decide
/// what a payload holds.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lineage::io {

struct JournalRecord {
  std::uint64_t unit_id = 0;
  std::vector<std::byte> payload;
  /// A block record's row block index; none for a unit record.
  std::optional<std::uint64_t> block;
  /// Where the payload lies in the file (read_journal_payload reads it again from there).
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;
};

/// Which payloads read_journal keeps in memory.
enum class JournalPayloads {
  all,
  /// Unit records only: block records come with an empty payload (offset and size set), so a
  /// reader can gather a run's block records and load them one unit at a time.
  unit_records,
};

struct JournalContents {
  std::vector<JournalRecord> records;
  std::uint64_t valid_bytes = 0;    ///< length of the intact prefix
  std::uint64_t dropped_bytes = 0;  ///< torn / corrupt tail that was ignored
};

/// One intact record as scan_journal passes it: its payload lies in the reader's buffer and is
/// valid only during the call.
struct JournalRecordView {
  std::uint64_t unit_id = 0;
  std::optional<std::uint64_t> block;  ///< a block record's row block index; none for a unit record
  std::span<const std::byte> payload;
  std::uint64_t payload_offset = 0;  ///< where the payload lies in the file
};

/// The intact prefix of a journal file and the torn or corrupt tail after it.
struct JournalExtent {
  std::uint64_t valid_bytes = 0;
  std::uint64_t dropped_bytes = 0;
};

/// Calls `record` for every intact record of `path`, in file order, reading the file in pieces: a
/// reader holds one buffer of about a megabyte (or the largest record), never the file, whose
/// size grows with the run's units. A missing file has no records. Throws InputError only when the
/// file cannot be read at all; what `record` throws passes through.
JournalExtent scan_journal(const std::filesystem::path& path,
                           const std::function<void(const JournalRecordView&)>& record);

/// Reads every intact record (scan_journal, each record copied). A missing file reads as empty.
/// Throws InputError only when the file cannot be read at all.
[[nodiscard]] JournalContents read_journal(const std::filesystem::path& path,
                                           JournalPayloads payloads = JournalPayloads::all);
/// The payload of `record` (read_journal of `path`), read again from the file and checked against
/// the record's checksum. Throws StoreError when the file no longer holds it.
[[nodiscard]] std::vector<std::byte> read_journal_payload(const std::filesystem::path& path,
                                                          const JournalRecord& record);

/// The naming rule of a run's journal, in one place: the folder STORE.journal beside the store,
/// holding one file per rank and session, "r<rank>-<session>.jrn". Ranks never share a file (the
/// folder may be node-local or shared), and a resumed run never appends to an earlier session's.
[[nodiscard]] std::filesystem::path journal_dir_of(const std::filesystem::path& store);
[[nodiscard]] std::filesystem::path rank_journal_path(const std::filesystem::path& store, int rank,
                                                      const std::string& session);
/// Every file in the store's journal folder, sorted by name (none when there is no folder).
[[nodiscard]] std::vector<std::filesystem::path> journal_files_of(const std::filesystem::path& store);

class JournalWriter {
 public:
  /// Opens `path` for appending (creating it); a torn tail left by a killed process is cut off
  /// first so new records follow the last intact one.
  explicit JournalWriter(const std::filesystem::path& path);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  void append(std::uint64_t unit_id, std::span<const std::byte> payload);
  /// Appends a block record: row block `block` of unit `unit_id`.
  void append_block(std::uint64_t unit_id, std::uint64_t block, std::span<const std::byte> payload);
  /// Makes every appended record durable (fflush + fsync). Call at checkpoints.
  void sync();
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void write(std::uint32_t magic, std::uint64_t unit_id, const std::uint64_t* block,
             std::span<const std::byte> payload);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace lineage::io
