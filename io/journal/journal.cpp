#include "io/journal/journal.hpp"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "io/model_folder.hpp"

namespace lineage::io {
namespace {

constexpr std::uint32_t kMagic = 0x4C4A524E;       // "LJRN": a unit record
constexpr std::uint32_t kBlockMagic = 0x4C4A5242;  // "LJRB": a block record (8 more bytes of head)
constexpr std::size_t kHead = 4 + 8 + 8;
constexpr std::uint64_t kMaxPayload = 1ull << 34;  // 16 GiB: anything larger is corruption

std::uint64_t checksum(std::uint64_t id, const std::uint64_t* block, std::uint64_t len, const std::byte* payload) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, &id, sizeof id);
  if (block) XXH3_64bits_update(st, block, sizeof *block);
  XXH3_64bits_update(st, &len, sizeof len);
  if (len > 0) XXH3_64bits_update(st, payload, len);
  const auto h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::filesystem::path journal_dir_of(const std::filesystem::path& store) {
  return std::filesystem::path(store.string() + ".journal");
}

std::filesystem::path rank_journal_path(const std::filesystem::path& store, int rank, const std::string& session) {
  return journal_dir_of(store) / ("r" + std::to_string(rank) + "-" + session + ".jrn");
}

std::vector<std::filesystem::path> journal_files_of(const std::filesystem::path& store) {
  std::vector<std::filesystem::path> files;
  const auto dir = journal_dir_of(store);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

JournalExtent scan_journal(const std::filesystem::path& path,
                           const std::function<void(const JournalRecordView&)>& record) {
  JournalExtent out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  const RegularFile file(path);
  const auto size = file.size();
  // Bytes [begin, end) of `buffer` are the file's from offset `pos` on, not parsed yet.
  std::vector<std::byte> buffer(std::size_t{1} << 20);
  std::size_t begin = 0, end = 0;
  std::uint64_t pos = 0;
  // Makes `need` bytes available from `begin` on; false when the file ends first. Callers check a
  // record's length against the file's size before asking for it, so a corrupt length cannot
  // make the buffer huge.
  const auto fill = [&](std::size_t need) {
    if (end - begin >= need) return true;
    std::memmove(buffer.data(), buffer.data() + begin, end - begin);
    end -= begin;
    begin = 0;
    if (buffer.size() < need) buffer.resize(need);
    // Fewer bytes than asked for: the end of the file (or it shrank while being read).
    end += file.read_at(buffer.data() + end, buffer.size() - end, pos + end);
    return end >= need;
  };
  while (fill(kHead + 8)) {
    const auto magic = load<std::uint32_t>(buffer.data() + begin);
    if (magic != kMagic && magic != kBlockMagic) break;
    const bool is_block = magic == kBlockMagic;
    const std::size_t head = kHead + (is_block ? 8 : 0);
    if (!fill(head + 8)) break;
    const std::byte* p = buffer.data() + begin;
    const auto id = load<std::uint64_t>(p + 4);
    const auto block = is_block ? load<std::uint64_t>(p + 12) : 0;
    const auto len = load<std::uint64_t>(p + head - 8);
    if (len > kMaxPayload || pos + head + len + 8 > size) break;
    if (!fill(head + static_cast<std::size_t>(len) + 8)) break;
    p = buffer.data() + begin;
    if (load<std::uint64_t>(p + head + len) != checksum(id, is_block ? &block : nullptr, len, p + head)) break;
    JournalRecordView view;
    view.unit_id = id;
    if (is_block) view.block = block;
    view.payload = {p + head, static_cast<std::size_t>(len)};
    view.payload_offset = pos + head;
    record(view);
    begin += head + len + 8;
    pos += head + len + 8;
  }
  out.valid_bytes = pos;
  out.dropped_bytes = size > pos ? size - pos : 0;
  return out;
}

JournalContents read_journal(const std::filesystem::path& path, JournalPayloads payloads) {
  JournalContents out;
  const auto extent = scan_journal(path, [&](const JournalRecordView& view) {
    JournalRecord record;
    record.unit_id = view.unit_id;
    record.block = view.block;
    record.payload_offset = view.payload_offset;
    record.payload_size = view.payload.size();
    if (!view.block || payloads == JournalPayloads::all)
      record.payload.assign(view.payload.begin(), view.payload.end());
    out.records.push_back(std::move(record));
  });
  out.valid_bytes = extent.valid_bytes;
  out.dropped_bytes = extent.dropped_bytes;
  return out;
}

std::vector<std::byte> read_journal_payload(const std::filesystem::path& path, const JournalRecord& record) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::byte> payload(record.payload_size);
  std::uint64_t sum = 0;
  if (in) in.seekg(static_cast<std::streamoff>(record.payload_offset));
  if (in && record.payload_size > 0) {
    in.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
  }
  if (in) in.read(reinterpret_cast<char*>(&sum), sizeof sum);
  const std::uint64_t* block = record.block ? &*record.block : nullptr;
  if (!in || sum != checksum(record.unit_id, block, record.payload_size, payload.data())) {
    throw StoreError(path.string() + ": the journal record of unit " + std::to_string(record.unit_id) + " at byte " +
                     std::to_string(record.payload_offset) + " can no longer be read back (file changed?)");
  }
  return payload;
}

JournalWriter::JournalWriter(const std::filesystem::path& path) : path_(path) {
  const auto existing = scan_journal(path, [](const JournalRecordView&) {});
  if (existing.dropped_bytes > 0) {
    std::error_code ec;
    std::filesystem::resize_file(path, existing.valid_bytes, ec);
    if (ec) throw StoreError(path.string() + ": cannot cut torn journal tail: " + ec.message());
  }
  file_ = std::fopen(path.c_str(), "ab");
  if (!file_) throw StoreError(path.string() + ": cannot open journal: " + std::strerror(errno));
}

JournalWriter::~JournalWriter() {
  if (file_ && std::fclose(file_) != 0) {
    std::cerr << "lineage: warning: closing journal " << path_ << " failed\n";
  }
}

void JournalWriter::append(std::uint64_t unit_id, std::span<const std::byte> payload) {
  write(kMagic, unit_id, nullptr, payload);
}

void JournalWriter::append_block(std::uint64_t unit_id, std::uint64_t block, std::span<const std::byte> payload) {
  write(kBlockMagic, unit_id, &block, payload);
}

void JournalWriter::write(std::uint32_t magic, std::uint64_t unit_id, const std::uint64_t* block,
                          std::span<const std::byte> payload) {
  const std::uint64_t len = payload.size();
  const auto sum = checksum(unit_id, block, len, payload.data());
  const bool ok =
      std::fwrite(&magic, sizeof magic, 1, file_) == 1 && std::fwrite(&unit_id, sizeof unit_id, 1, file_) == 1 &&
      (!block || std::fwrite(block, sizeof *block, 1, file_) == 1) && std::fwrite(&len, sizeof len, 1, file_) == 1 &&
      (len == 0 || std::fwrite(payload.data(), 1, len, file_) == len) && std::fwrite(&sum, sizeof sum, 1, file_) == 1;
  if (!ok) throw StoreError(path_.string() + ": journal write failed: " + std::strerror(errno));
}

void JournalWriter::sync() {
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
    throw StoreError(path_.string() + ": journal sync failed: " + std::strerror(errno));
  }
}

}  // namespace lineage::io
