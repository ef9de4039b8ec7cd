#include "io/store/result_store.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/errors.hpp"
#include "io/hdf5/h5_file.hpp"
#include "io/json_text.hpp"

namespace lineage::io {
namespace {

template <typename T>
void put(H5File& f, const std::string& path, std::span<const T> v) {
  f.write<T>(path, v, {v.size()});
}
template <typename T>
void put(H5File& f, const std::string& path, const std::vector<T>& v) {
  put(f, path, std::span<const T>(v));
}

template <typename T>
std::vector<T> get(const H5File& f, const std::string& path) {
  return f.exists(path) ? f.read<T>(path) : std::vector<T>{};
}

/// Rows of `width` elements each that fit in a part of about 4 MiB (at least one).
template <typename T>
std::uint64_t rows_per_part(std::uint64_t width) {
  constexpr std::uint64_t kPartBytes = std::uint64_t{4} << 20;
  return std::max<std::uint64_t>(1, kPartBytes / std::max<std::uint64_t>(1, width * sizeof(T)));
}

/// A [rows.size(), width] dataset of the spans `row_of(row)` gives, in unit id order, written a
/// part at a time (H5File::write_by_rows): the rows are never copied into one buffer.
template <typename RowOf>
void put_rows(H5File& f, const std::string& path, const UnitRows<float>& rows, std::uint64_t width, RowOf row_of) {
  auto next = rows.begin();
  f.write_by_rows<float>(path, {rows.size(), width}, rows_per_part<float>(width),
                         [&](std::uint64_t, std::span<float> part) {
                           for (std::size_t at = 0; at < part.size(); at += width, ++next) {
                             const std::span<const float> row = row_of(*next);
                             std::copy(row.begin(), row.end(), part.begin() + static_cast<std::ptrdiff_t>(at));
                           }
                         });
}

/// One dataset of the spans `list_of(row)` gives, end to end in unit id order, written a part at a
/// time.
template <typename ListOf>
void put_concatenated(H5File& f, const std::string& path, const UnitRows<std::uint64_t>& rows, std::uint64_t total,
                      ListOf list_of) {
  auto next = rows.begin();
  std::size_t taken = 0;  // of *next's list
  f.write_by_rows<std::uint64_t>(path, {total}, rows_per_part<std::uint64_t>(1),
                                 [&](std::uint64_t, std::span<std::uint64_t> part) {
                                   std::size_t at = 0;
                                   while (at < part.size()) {
                                     const std::span<const std::uint64_t> list = list_of(*next);
                                     const auto n = std::min(list.size() - taken, part.size() - at);
                                     std::copy_n(list.begin() + static_cast<std::ptrdiff_t>(taken), n,
                                                 part.begin() + static_cast<std::ptrdiff_t>(at));
                                     at += n;
                                     taken += n;
                                     if (taken == list.size()) {
                                       ++next;
                                       taken = 0;
                                     }
                                   }
                                 });
}

std::vector<std::string> strings(const H5File& f, const std::string& path) {
  return f.exists(path) ? f.read_strings(path) : std::vector<std::string>{};
}

std::string text(const H5File& f, const std::string& path) {
  auto s = strings(f, path);
  return s.empty() ? std::string() : std::move(s.front());
}

SpilledText spilled(const std::string& text) { return {text.begin(), text.end()}; }

/// Appends fields to one byte string for hashing (strings with their length, so fields cannot
/// run into each other).
struct Fields {
  std::string bytes;
  void add(const std::string& s) {
    add(static_cast<std::uint64_t>(s.size()));
    bytes += s;
  }
  template <typename T>
  void add(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
};

[[noreturn]] void bad(const std::filesystem::path& path, const std::string& reason) {
  throw StoreError(path.string() + ": damaged result store: " + reason);
}

template <typename T>
void require_length(const std::filesystem::path& path, const std::string& what, const std::vector<T>& v,
                    std::size_t n) {
  if (v.size() != n) {
    bad(path, what + " has " + std::to_string(v.size()) + " entries, " + std::to_string(n) + " expected");
  }
}

/// The /unmatched column table.
std::vector<UnmatchedTensor> unmatched_records(const H5File& f, const std::filesystem::path& path) {
  const auto holder = get<std::int32_t>(f, "/unmatched/model");
  const auto lacking = get<std::int32_t>(f, "/unmatched/lacking_model");
  const auto keys = strings(f, "/unmatched/key");
  require_length(path, "/unmatched/lacking_model", lacking, holder.size());
  require_length(path, "/unmatched/key", keys, holder.size());
  std::vector<UnmatchedTensor> out;
  for (std::size_t i = 0; i < holder.size(); ++i) out.push_back(unmatched_tensor(holder[i], lacking[i], keys[i]));
  return out;
}

/// The model number (one to nine digits) at text[at...]; moves `at` past it.
std::optional<int> model_number(std::string_view text, std::size_t& at) {
  std::size_t end = at;
  while (end < text.size() && end - at < 10 && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == at || end - at > 9) return std::nullopt;
  int m = 0;
  for (auto i = at; i < end; ++i) m = m * 10 + (text[i] - '0');
  at = end;
  return m;
}

/// Stores written before /unmatched hold the pair stage's notes in /units/unmatched:
/// "model M lacks KEY" (the suspect's tensor) and "model 0 lacks KEY of model M" (model M's).
/// This is the only place their text is read.
std::vector<UnmatchedTensor> legacy_unmatched_records(const H5File& f, const std::filesystem::path& path) {
  std::vector<UnmatchedTensor> out;
  for (const std::string_view note : strings(f, "/units/unmatched")) {
    constexpr std::string_view model = "model ", lacks = " lacks ", of_model = " of model ";
    std::size_t at = model.size();
    const auto lacking = note.starts_with(model) ? model_number(note, at) : std::nullopt;
    if (!lacking || note.substr(at, lacks.size()) != lacks) {
      bad(path, "/units/unmatched holds a note lineage does not write: " + std::string(note.substr(0, 200)));
    }
    auto key = note.substr(at + lacks.size());
    int holder = 0;
    if (const auto of = key.rfind(of_model); of != std::string_view::npos) {
      std::size_t digits = of + of_model.size();
      const auto m = model_number(key, digits);
      if (!m || digits != key.size()) {
        bad(path, "/units/unmatched holds a note lineage does not write: " + std::string(note.substr(0, 200)));
      }
      holder = *m;
      key = key.substr(0, of);
    }
    out.push_back(unmatched_tensor(holder, *lacking, key));
  }
  return out;
}

/// A unit's typed fields as the store's text columns hold them: the one place they are made.
struct UnitText {
  std::string kind, key_a, key_b, component, role;
};

UnitText unit_text(const StoredUnit& u) {
  return {std::string(to_string(u.kind)), to_string(u.key_a), to_string(u.key_b),
          std::string(to_string(u.key_a.component)), std::string(to_string(u.key_a.role))};
}

/// Row `row` of the text column `dataset` read by `parse` (which gives nullopt for text lineage
/// does not write); `expected` says what the text should have been.
template <typename Parse>
auto parse_cell(const std::filesystem::path& path, const std::string& dataset, std::size_t row, const std::string& text,
                const char* expected, Parse parse) {
  auto value = parse(text);
  if (!value) {
    bad(path, dataset + "[" + std::to_string(row) + "] is '" + text.substr(0, 200) + "', not " + expected);
  }
  return *std::move(value);
}

}  // namespace

bool is_screening_run(const StoreContents& c) {
  const auto config = nlohmann::json::parse(c.config_json, nullptr, false);
  if (!config.is_object()) return false;
  const auto it = config.find("screen");
  return it != config.end() && it->is_boolean() && it->get<bool>();
}

bool reads_block_scaled_values(const StoreContents& c) {
  const auto config = nlohmann::json::parse(c.config_json, nullptr, false);
  if (!config.is_object()) return false;
  const auto it = config.find("block_scaled");
  return it != config.end() && it->is_string() && it->get<std::string>() == "values";
}

std::uint64_t units_missing(const StoreContents& c) noexcept {
  const auto have = c.done_ids.size() + c.superseded_ids.size();
  return have >= c.units.size() ? 0 : c.units.size() - have;
}

std::uint64_t unit_checksum(const StoredUnit& u) {
  Fields f;
  f.add(u.id);
  const auto t = unit_text(u);
  for (const auto* s : {&t.kind, &t.key_a, &t.key_b, &u.tensor_a.str(), &u.tensor_b.str(), &t.component, &t.role})
    f.add(*s);
  for (auto v : {u.model_a, u.model_b, u.layer_a, u.layer_b, u.expert}) f.add(v);
  for (auto v : {u.rows, u.cols, u.bytes}) f.add(v);
  return XXH3_64bits(f.bytes.data(), f.bytes.size());
}

std::uint64_t result_row_checksum(const StoreContents& c, std::size_t row) {
  Fields f;
  const auto k = c.stat_names.size();
  f.add(row < c.done_ids.size() ? c.done_ids[row] : 0);
  if ((row + 1) * k <= c.stats.size()) {
    f.bytes.append(reinterpret_cast<const char*>(c.stats.data() + row * k), k * sizeof(double));
  }
  f.add(row < c.hash_a.size() ? c.hash_a[row] : 0);
  f.add(row < c.hash_b.size() ? c.hash_b[row] : 0);
  return XXH3_64bits(f.bytes.data(), f.bytes.size());
}

std::uint64_t StoredModel::fingerprint() const {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  for (std::size_t i = 0; i < shard_files.size(); ++i) {
    XXH3_64bits_update(st, shard_files[i].data(), shard_files[i].size());
    if (i < shard_sizes.size()) XXH3_64bits_update(st, &shard_sizes[i], sizeof shard_sizes[i]);
    if (i < header_hashes.size()) XXH3_64bits_update(st, &header_hashes[i], sizeof header_hashes[i]);
  }
  const auto h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

namespace {

/// Everything in `c`, as the schema lays it out (docs/store-schema.md).
void fill_store(H5File& f, const StoreContents& c) {
  f.set_attribute("/", "schema_version", kStoreSchemaVersion);
  f.set_attribute("/", "tool", c.tool_version);
  f.set_attribute("/", "run_id", c.run_id);
  f.set_attribute("/", "status", c.status);
  f.write_string("/run/config_json", c.config_json);
  f.write_strings("/run/writers", c.writers);
  // Models: one group each, in order (index = model number in /units).
  std::vector<std::string> labels;
  for (std::size_t m = 0; m < c.models.size(); ++m) {
    const auto& s = c.models[m];
    const auto g = "/inputs/" + std::to_string(m);
    labels.push_back(s.label);
    f.ensure_group(g);
    f.set_attribute(g, "label", s.label);
    f.set_attribute(g, "path", s.path);
    f.set_attribute(g, "family", s.family);
    f.set_attribute(g, "tensors", static_cast<std::int64_t>(s.tensors));
    f.set_attribute(g, "fingerprint", std::to_string(s.fingerprint()));
    f.write_strings(g + "/shard_files", s.shard_files);
    put(f, g + "/shard_sizes", s.shard_sizes);
    put(f, g + "/header_xxh3", s.header_hashes);
    if (!s.shard_mtimes_ns.empty()) put(f, g + "/shard_mtime_ns", s.shard_mtimes_ns);
  }
  f.write_strings("/inputs/labels", labels);
  // Units: a column table (one dataset per field, row i = unit id i), each column made and
  // written a part of kUnitRowsPerPart rows at a time: a deep model's text columns as strings take
  // tens of bytes a unit each, the store's largest transient when held whole.
  const auto n = c.units.size();
  constexpr std::uint64_t kUnitRowsPerPart = 16384;
  const auto column = [&](const std::string& dataset, auto value_of) {
    using Value = decltype(value_of(std::declval<const StoredUnit&>()));
    if constexpr (std::is_same_v<Value, std::string>) {
      f.write_strings_by_rows(dataset, n, kUnitRowsPerPart,
                              [&](std::uint64_t first, std::uint64_t rows, std::vector<std::string>& part) {
                                for (auto i = first; i < first + rows; ++i) part.push_back(value_of(c.units[i]));
                              });
    } else {
      f.write_by_rows<Value>(dataset, {n}, kUnitRowsPerPart, [&](std::uint64_t first, std::span<Value> part) {
        for (std::size_t i = 0; i < part.size(); ++i) part[i] = value_of(c.units[first + i]);
      });
    }
  };
  f.ensure_group("/units");
  column("/units/id", [](const StoredUnit& u) { return u.id; });
  column("/units/kind", [](const StoredUnit& u) { return std::string(to_string(u.kind)); });
  column("/units/key_a", [](const StoredUnit& u) { return to_string(u.key_a); });
  column("/units/key_b", [](const StoredUnit& u) { return to_string(u.key_b); });
  column("/units/tensor_a", [](const StoredUnit& u) { return u.tensor_a.str(); });
  column("/units/tensor_b", [](const StoredUnit& u) { return u.tensor_b.str(); });
  column("/units/component", [](const StoredUnit& u) { return std::string(to_string(u.key_a.component)); });
  column("/units/role", [](const StoredUnit& u) { return std::string(to_string(u.key_a.role)); });
  column("/units/model_a", [](const StoredUnit& u) { return u.model_a; });
  column("/units/model_b", [](const StoredUnit& u) { return u.model_b; });
  column("/units/layer_a", [](const StoredUnit& u) { return u.layer_a; });
  column("/units/layer_b", [](const StoredUnit& u) { return u.layer_b; });
  column("/units/expert", [](const StoredUnit& u) { return u.expert; });
  column("/units/rows", [](const StoredUnit& u) { return u.rows; });
  column("/units/cols", [](const StoredUnit& u) { return u.cols; });
  column("/units/bytes", [](const StoredUnit& u) { return u.bytes; });
  std::vector<std::uint64_t> unit_sums(n);
  for (std::size_t i = 0; i < n; ++i) unit_sums[i] = unit_checksum(c.units[i]);
  put(f, "/units/row_xxh3", unit_sums);
  // Unmatched tensors: a column table (/unmatched/*), and the same records as the notes that
  // readers before the table counted (written for them only; never read beside the table).
  std::vector<std::int32_t> holder, lacking;
  std::vector<std::string> keys, notes;
  for (const auto& u : c.unmatched) {
    holder.push_back(u.model);
    lacking.push_back(u.lacking_model);
    keys.push_back(u.key_text());
    notes.push_back(to_string(u));
  }
  f.ensure_group("/unmatched");
  put(f, "/unmatched/model", holder);
  put(f, "/unmatched/lacking_model", lacking);
  f.write_strings("/unmatched/key", keys);
  f.write_strings("/units/unmatched", notes);
  f.ensure_group("/plan");
  f.set_attribute("/plan", "ranks", static_cast<std::int64_t>(c.plan_ranks));
  put(f, "/plan/rank_of_unit", c.plan_rank_of_unit);
  put(f, "/plan/bytes_per_rank", c.plan_bytes_per_rank);
  if (!c.superseded_ids.empty()) {
    // What the reader refuses is never written (a store compare could not read back).
    for (std::size_t r = 0; r < c.superseded_ids.size(); ++r) {
      const auto unit = c.superseded_ids[r];
      if (unit >= c.units.size() || (r > 0 && unit <= c.superseded_ids[r - 1]) ||
          std::find(c.done_ids.begin(), c.done_ids.end(), unit) != c.done_ids.end()) {
        throw InternalError("result store: superseded unit " + std::to_string(unit) +
                            " is no unit, out of order, or has results");
      }
    }
    put(f, "/units/superseded_ids", c.superseded_ids);
  }
  // Statistics: [done x stats] row-major, columns named by /results/stat_names.
  f.ensure_group("/results");
  f.write_strings("/results/stat_names", c.stat_names);
  put(f, "/results/unit_id", c.done_ids);
  const std::uint64_t cols_n = c.stat_names.size();
  if (cols_n > 0 && c.stats.size() != c.done_ids.size() * cols_n) {
    throw InternalError("result store: stats size does not match done units x stat names");
  }
  f.write<double>("/results/stats", std::span<const double>(c.stats), {c.done_ids.size(), cols_n});
  put(f, "/results/hash_a", c.hash_a);
  put(f, "/results/hash_b", c.hash_b);
  std::vector<std::uint64_t> row_sums(c.done_ids.size());
  for (std::size_t r = 0; r < row_sums.size(); ++r) row_sums[r] = result_row_checksum(c, r);
  put(f, "/results/row_xxh3", row_sums);
  for (const auto v : c.values) {
    const auto g = "/values/" + std::to_string(v.id);
    put(f, g + "/a", v.a);
    put(f, g + "/b", v.b);
  }
  if (!c.sketches.empty()) {
    const std::uint64_t width = (*c.sketches.begin()).a().size();
    std::vector<std::uint64_t> ids;
    ids.reserve(c.sketches.size());
    for (const auto row : c.sketches) {
      if (row.a().size() != width) throw InternalError("result store: sketches of different widths");
      ids.push_back(row.id);
    }
    put(f, "/sketches/unit_id", ids);
    put_rows(f, "/sketches/a", c.sketches, width, [](const auto& row) { return row.a(); });
    put_rows(f, "/sketches/b", c.sketches, width, [](const auto& row) { return row.b(); });
  }
  if (!c.joint_null.empty()) {
    const std::uint64_t width = (*c.joint_null.begin()).values.size();
    std::vector<std::uint64_t> ids;
    ids.reserve(c.joint_null.size());
    for (const auto row : c.joint_null) {
      if (row.values.size() != width) throw InternalError("result store: joint null vectors of different lengths");
      ids.push_back(row.id);
    }
    put(f, "/joint_null/unit_id", ids);
    put_rows(f, "/joint_null/h", c.joint_null, width, [](const auto& row) { return row.values; });
  }
  // Neuron matchings: one flat column table (tens of thousands of MLP units would be as many groups).
  if (!c.neuron_matches.empty()) {
    std::vector<std::uint64_t> nid, count;
    nid.reserve(c.neuron_matches.size());
    count.reserve(c.neuron_matches.size());
    std::uint64_t total = 0;
    for (const auto row : c.neuron_matches) {
      nid.push_back(row.id);
      count.push_back(row.a().size());
      total += row.a().size();
    }
    f.ensure_group("/neurons");
    put(f, "/neurons/unit_id", nid);
    put(f, "/neurons/count", count);
    put_concatenated(f, "/neurons/suspect", c.neuron_matches, total, [](const auto& row) { return row.a(); });
    put_concatenated(f, "/neurons/other", c.neuron_matches, total, [](const auto& row) { return row.b(); });
  }
  f.write_string("/summaries/json", c.summaries_json);
  f.write_string("/verdict/json", c.verdict_json);
  f.write_string("/evidence/json", c.evidence_json);
  if (!c.tensor_scan_json.empty()) f.write_string("/tensor_scan/json", c.tensor_scan_json);
}

/// A new file beside a store's `path` (`path`.tmp-XXXXXX) that becomes the store only when
/// commit() has made it durable and moved it into place: until then a full disk or an I/O error
/// leaves the last good store as it was, and the temporary is removed when this object goes.
class TemporaryStore {
 public:
  explicit TemporaryStore(std::filesystem::path path) : path_(std::move(path)) {
    std::string name = path_.string() + ".tmp-XXXXXX";
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) throw StoreError(path_.string() + ": cannot create the store (" + std::strerror(errno) + ")");
    temporary_ = name;
  }
  TemporaryStore(const TemporaryStore&) = delete;
  TemporaryStore& operator=(const TemporaryStore&) = delete;
  ~TemporaryStore() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(temporary_, ec);
    }
  }

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] const std::filesystem::path& temporary() const { return temporary_; }

  /// `bytes` written at the end.
  void append(std::span<const std::byte> bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write the store", n < 0 ? errno : EIO);
      done += static_cast<std::size_t>(n);
    }
  }
  void truncate(std::uint64_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) fail("cannot size the store", errno);
  }
  /// Durable, closed and in place of the last good store.
  void commit() {
    // A full disk or an I/O error shows here, while the old store is still in place.
    if (::fsync(fd_) != 0) fail("cannot make the store durable", errno);
    if (::close(std::exchange(fd_, -1)) != 0) fail("cannot finish writing the store", errno);
    std::error_code ec;
    std::filesystem::rename(temporary_, path_, ec);
    if (ec) throw StoreError(path_.string() + ": cannot move the finished store into place: " + ec.message());
    committed_ = true;
  }
  [[noreturn]] void fail(const std::string& what, int error) const {
    throw StoreError(path_.string() + ": " + what + ": " + std::strerror(error));
  }

 private:
  std::filesystem::path path_, temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

/// True when `file`'s file system gives a file the blocks it reserves (fallocate) and writes a
/// mapped page into its own reserved block, as ext4, XFS and tmpfs do: a full disk is then a
/// refused reservation, never a fault on a mapped page. Copy-on-write file systems allocate anew
/// at each write whatever was reserved; some file systems reserve nothing. Reserves the first page.
bool reserves_blocks(int file) {
  struct statfs fs {};
  if (::fstatfs(file, &fs) != 0) return false;
  constexpr std::array<std::uint32_t, 3> copy_on_write{0x9123683eU /* btrfs */, 0x2fc12fc1U /* zfs */,
                                                       0xca451a4eU /* bcachefs */};
  if (std::find(copy_on_write.begin(), copy_on_write.end(), static_cast<std::uint32_t>(fs.f_type)) !=
      copy_on_write.end()) {
    return false;
  }
  return ::fallocate(file, 0, 0, 4096) == 0;
}

}  // namespace

void write_result_store(const std::filesystem::path& path, const StoreContents& c) {
  // HDF5 writes only to memory (its core driver): a full disk or an I/O error is a refused
  // reservation or write here, never an HDF5 library left half-way through writing a file.
  TemporaryStore out(path);
  const auto in_memory = path.string() + ".in-memory";
  if (reserves_blocks(out.fd())) {
    // The memory is the temporary itself, mapped: the kernel writes it back as it is built, and no
    // anonymous memory holds the store (hundreds of megabytes on a deep model).
    {
      H5File f(in_memory, out.fd());
      try {
        fill_store(f, c);
        f.close();
      } catch (const StoreError&) {
        if (const int refused = f.image_growth_refusal(); refused != 0) out.fail("cannot write the store", refused);
        throw;
      }
    }
    out.truncate(H5File(out.temporary(), H5File::Mode::read).allocated_end());
  } else {
    // Written from the core driver's own memory (no copy of the store).
    H5File f(in_memory, H5File::Mode::create_in_memory);
    fill_store(f, c);
    for (const auto part : f.image_parts()) out.append(part);
    f.close();  // checked before the last good store is replaced
  }
  out.commit();
}

std::vector<std::filesystem::path> remove_stale_store_temporaries(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> removed;
  const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const auto prefix = path.filename().string() + ".tmp-";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    // mkstemp's pattern: the prefix and exactly six characters.
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!it->is_regular_file(ec)) continue;
    std::error_code rm;
    if (std::filesystem::remove(it->path(), rm)) removed.push_back(it->path());
  }
  return removed;
}

StoreContents read_result_store(const std::filesystem::path& path, const StoreReadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw StoreError(path.string() + ": no such result store");
  if (!std::filesystem::is_regular_file(path, ec)) throw StoreError(path.string() + ": not a regular file");
  H5File f(path, H5File::Mode::read);
  const auto version = f.int_attribute("/", "schema_version");
  if (!version) throw StoreError(path.string() + ": not a lineage result store (no schema_version)");
  if (*version < kOldestReadableSchemaVersion || *version > kStoreSchemaVersion) {
    throw StoreError(path.string() + ": result store schema version " + std::to_string(*version) +
                     " (this lineage reads versions " + std::to_string(kOldestReadableSchemaVersion) + " to " +
                     std::to_string(kStoreSchemaVersion) + ")");
  }
  StoreContents c;
  c.schema_version = *version;
  c.tool_version = f.string_attribute("/", "tool").value_or("");
  c.run_id = f.string_attribute("/", "run_id").value_or("");
  c.status = f.string_attribute("/", "status").value_or("partial");
  c.config_json = text(f, "/run/config_json");
  c.writers = strings(f, "/run/writers");
  // Every column is checked against the others before anything indexes with it.
  if (!f.exists("/inputs/labels")) bad(path, "/inputs/labels is missing");
  const auto labels = f.read_strings("/inputs/labels");
  for (std::size_t m = 0; m < labels.size(); ++m) {
    const auto g = "/inputs/" + std::to_string(m);
    if (!f.exists(g)) bad(path, g + " is missing (" + std::to_string(labels.size()) + " labels)");
    StoredModel s;
    s.label = f.string_attribute(g, "label").value_or("");
    s.path = f.string_attribute(g, "path").value_or("");
    s.family = f.string_attribute(g, "family").value_or("");
    s.tensors = static_cast<std::uint64_t>(f.int_attribute(g, "tensors").value_or(0));
    s.shard_files = strings(f, g + "/shard_files");
    s.shard_sizes = get<std::uint64_t>(f, g + "/shard_sizes");
    s.header_hashes = get<std::uint64_t>(f, g + "/header_xxh3");
    require_length(path, g + "/shard_sizes", s.shard_sizes, s.shard_files.size());
    require_length(path, g + "/header_xxh3", s.header_hashes, s.shard_files.size());
    s.shard_mtimes_ns = get<std::int64_t>(f, g + "/shard_mtime_ns");  // absent before the writer lock
    if (!s.shard_mtimes_ns.empty())
      require_length(path, g + "/shard_mtime_ns", s.shard_mtimes_ns, s.shard_files.size());
    c.models.push_back(std::move(s));
  }
  const auto models = static_cast<std::int64_t>(c.models.size());
  const auto id = get<std::uint64_t>(f, "/units/id");
  const auto n = id.size();
  const auto column = [&](const std::string& name, auto reader) {
    auto v = reader(name);
    require_length(path, name, v, n);
    return v;
  };
  const auto s_col = [&](const std::string& name) {
    return column(name, [&](const auto& p) { return strings(f, p); });
  };
  const auto i_col = [&](const std::string& name) {
    return column(name, [&](const auto& p) { return get<std::int32_t>(f, p); });
  };
  const auto u_col = [&](const std::string& name) {
    return column(name, [&](const auto& p) { return get<std::uint64_t>(f, p); });
  };
  const auto kind = s_col("/units/kind"), key_a = s_col("/units/key_a"), key_b = s_col("/units/key_b");
  const auto ta = s_col("/units/tensor_a"), tb = s_col("/units/tensor_b");
  const auto comp = s_col("/units/component"), role = s_col("/units/role");
  const auto ma = i_col("/units/model_a"), mb = i_col("/units/model_b");
  const auto la = i_col("/units/layer_a"), lb = i_col("/units/layer_b");
  const auto ex = i_col("/units/expert");
  const auto rows = u_col("/units/rows"), cols = u_col("/units/cols");
  // Stores written before /units/bytes existed have none.
  const auto bytes = f.exists("/units/bytes") ? u_col("/units/bytes") : std::vector<std::uint64_t>{};
  c.units.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (id[i] != i) bad(path, "/units/id[" + std::to_string(i) + "] is " + std::to_string(id[i]) + ", not its row");
    if (ma[i] < 0 || ma[i] >= models || mb[i] < 0 || mb[i] >= models) {
      bad(path, "unit " + std::to_string(i) + " names a model outside the " + std::to_string(models) + " inputs");
    }
    const auto key = [&](const std::string& dataset, const std::string& text) {
      return parse_cell(path, dataset, i, text, "a canonical tensor key", parse_canonical_tensor_key);
    };
    StoredUnit u{id[i],
                 parse_cell(path, "/units/kind", i, kind[i], "a unit kind", parse_unit_kind),
                 key("/units/key_a", key_a[i]),
                 key("/units/key_b", key_b[i]),
                 ta[i],
                 tb[i],
                 ma[i],
                 mb[i],
                 la[i],
                 lb[i],
                 ex[i],
                 rows[i],
                 cols[i],
                 i < bytes.size() ? bytes[i] : 0};
    // The component and role columns repeat key_a's (for readers such as h5py); they must agree.
    if (comp[i] != to_string(u.key_a.component) || role[i] != to_string(u.key_a.role)) {
      bad(path, "/units/component[" + std::to_string(i) + "] and /units/role[" + std::to_string(i) + "] are '" +
                    comp[i].substr(0, 200) + "' and '" + role[i].substr(0, 200) + "', not those of /units/key_a[" +
                    std::to_string(i) + "] (" + key_a[i] + ")");
    }
    c.units.push_back(std::move(u));
  }
  c.unmatched = f.exists("/unmatched") ? unmatched_records(f, path) : legacy_unmatched_records(f, path);
  for (const auto& u : c.unmatched) {
    if (u.model < 0 || u.model >= models || u.lacking_model < 0 || u.lacking_model >= models) {
      bad(path, "an unmatched tensor (" + u.key_text() + ") names a model that does not exist");
    }
  }
  c.plan_ranks = static_cast<std::int32_t>(f.int_attribute("/plan", "ranks").value_or(1));
  c.plan_rank_of_unit = get<std::int32_t>(f, "/plan/rank_of_unit");
  if (!c.plan_rank_of_unit.empty()) require_length(path, "/plan/rank_of_unit", c.plan_rank_of_unit, n);
  c.plan_bytes_per_rank = get<std::uint64_t>(f, "/plan/bytes_per_rank");
  c.stat_names = strings(f, "/results/stat_names");
  c.done_ids = get<std::uint64_t>(f, "/results/unit_id");
  const auto done = c.done_ids.size();
  for (std::size_t r = 0; r < done; ++r) {
    if (c.done_ids[r] >= n) bad(path, "/results/unit_id[" + std::to_string(r) + "] names no unit");
    if (r > 0 && c.done_ids[r] <= c.done_ids[r - 1]) bad(path, "/results/unit_id is not strictly ascending");
  }
  c.superseded_ids = get<std::uint64_t>(f, "/units/superseded_ids");
  for (std::size_t r = 0; r < c.superseded_ids.size(); ++r) {
    const auto unit = c.superseded_ids[r];
    if (unit >= n) bad(path, "/units/superseded_ids[" + std::to_string(r) + "] names no unit");
    if (r > 0 && unit <= c.superseded_ids[r - 1]) bad(path, "/units/superseded_ids is not strictly ascending");
    if (std::binary_search(c.done_ids.begin(), c.done_ids.end(), unit))
      bad(path, "/units/superseded_ids[" + std::to_string(r) + "] names unit " + std::to_string(unit) +
                    ", which has results");
  }
  for (std::size_t r = 0; r < c.superseded_ids.size(); ++r) {
    const auto unit = c.superseded_ids[r];
    const auto& u = c.units[unit];
    if (u.kind != UnitKind::same_key || u.key_a.role != TensorRole::routed_expert) {
      bad(path, "/units/superseded_ids[" + std::to_string(r) + "] names unit " + std::to_string(unit) +
                    ", which is no same-key unit of a routed expert");
    }
  }
  if (f.exists("/results/stats")) {
    // Read a part at a time straight into the spilled table: no whole copy in the heap first.
    const auto dims = f.shape("/results/stats", sizeof(double));
    const std::vector<std::uint64_t> want{done, c.stat_names.size()};
    const bool empty = std::find(dims.begin(), dims.end(), 0) != dims.end();
    if (dims != want && !(done == 0 && empty)) {
      std::string got;
      for (auto d : dims) got += (got.empty() ? "" : " x ") + std::to_string(d);
      bad(path, "/results/stats is [" + got + "], not [" + std::to_string(done) + " x " +
                    std::to_string(c.stat_names.size()) + "] (units with results x /results/stat_names)");
    }
    if (!empty) {
      c.stats.reserve(done * c.stat_names.size());
      f.read_by_rows<double>("/results/stats", [&](std::uint64_t, std::span<const double> part) {
        c.stats.insert(c.stats.end(), part.begin(), part.end());
      });
    }
  } else if (done > 0) {
    bad(path, "/results/stats is missing");
  }
  c.hash_a = get<std::uint64_t>(f, "/results/hash_a");
  c.hash_b = get<std::uint64_t>(f, "/results/hash_b");
  require_length(path, "/results/hash_a", c.hash_a, done);
  require_length(path, "/results/hash_b", c.hash_b, done);
  if (f.exists("/values")) {
    for (const auto& name : f.children("/values")) {
      const auto g = "/values/" + name;
      if (name.empty() || name.size() > 19 || name.find_first_not_of("0123456789") != std::string::npos ||
          std::stoull(name) >= n) {
        bad(path, "/values holds an entry that names no unit");
      }
      c.values.put(std::stoull(name), get<float>(f, g + "/a"), get<float>(f, g + "/b"));
    }
  }
  if (f.exists("/sketches/unit_id")) {
    const auto ids = get<std::uint64_t>(f, "/sketches/unit_id");
    const auto dims_a = f.shape("/sketches/a", sizeof(float)), dims_b = f.shape("/sketches/b", sizeof(float));
    if (dims_a.size() != 2 || dims_a != dims_b || dims_a[0] != ids.size())
      bad(path, "/sketches/a and /sketches/b are not both [/sketches/unit_id entries x width]");
    for (std::size_t r = 0; r < ids.size(); ++r) {
      if (ids[r] >= n) bad(path, "/sketches/unit_id[" + std::to_string(r) + "] names no unit");
    }
    // Side A's rows a part at a time into one spilled table, then each unit's row put with side B's.
    UnitRows<float> side_a;
    const auto width = dims_a[1];
    // Rows of no values are rows all the same (read_by_rows gives no part of them).
    if (width == 0) {
      for (const auto unit : ids) c.sketches.put(unit, std::span<const float>(), std::span<const float>());
    }
    f.read_by_rows<float>("/sketches/a", [&](std::uint64_t first, std::span<const float> part) {
      for (std::uint64_t r = 0; r * width < part.size(); ++r) side_a.put(first + r, part.subspan(r * width, width));
    });
    f.read_by_rows<float>("/sketches/b", [&](std::uint64_t first, std::span<const float> part) {
      for (std::uint64_t r = 0; r * width < part.size(); ++r) {
        c.sketches.put(ids[first + r], (*side_a.find(first + r)).values, part.subspan(r * width, width));
      }
    });
  }
  if (f.exists("/joint_null/unit_id")) {
    const auto ids = get<std::uint64_t>(f, "/joint_null/unit_id");
    const auto dims = f.shape("/joint_null/h", sizeof(float));
    if (dims.size() != 2 || dims[0] != ids.size()) bad(path, "/joint_null/h is not [/joint_null/unit_id entries x K]");
    for (std::size_t r = 0; r < ids.size(); ++r) {
      if (ids[r] >= n) bad(path, "/joint_null/unit_id[" + std::to_string(r) + "] names no unit");
    }
    const auto width = dims[1];
    if (width == 0) {
      for (const auto unit : ids) c.joint_null.put(unit, std::span<const float>());
    }
    f.read_by_rows<float>("/joint_null/h", [&](std::uint64_t first, std::span<const float> part) {
      for (std::uint64_t r = 0; r * width < part.size(); ++r)
        c.joint_null.put(ids[first + r], part.subspan(r * width, width));
    });
  }
  if (f.exists("/neurons")) {
    const auto nid = get<std::uint64_t>(f, "/neurons/unit_id");
    const auto count = get<std::uint64_t>(f, "/neurons/count");
    const auto sampled = get<std::uint64_t>(f, "/neurons/suspect");
    const auto matched = get<std::uint64_t>(f, "/neurons/other");
    require_length(path, "/neurons/count", count, nid.size());
    require_length(path, "/neurons/other", matched, sampled.size());
    std::size_t at = 0;
    for (std::size_t i = 0; i < nid.size(); ++i) {
      if (nid[i] >= n) bad(path, "/neurons/unit_id[" + std::to_string(i) + "] names no unit");
      if (count[i] > sampled.size() - at) bad(path, "/neurons/count adds up to more than /neurons/suspect holds");
      c.neuron_matches.put(nid[i], std::span(sampled).subspan(at, count[i]), std::span(matched).subspan(at, count[i]));
      at += count[i];
    }
    if (at != sampled.size()) bad(path, "/neurons/count adds up to less than /neurons/suspect holds");
  }
  c.summaries_json = text(f, "/summaries/json");
  c.verdict_json = spilled(text(f, "/verdict/json"));
  // Stores written before evidence existed have no /evidence: nothing recorded yet.
  if (f.exists("/evidence/json")) c.evidence_json = text(f, "/evidence/json");
  if (!c.evidence_json.empty()) {
    nlohmann::json e;
    try {
      e = parse_json_text(c.evidence_json, path.string() + ":/evidence/json");
    } catch (const InputError& err) {
      bad(path, "/evidence/json: " + err.reason());
    }
    if (!e.is_array()) bad(path, "/evidence/json is not a JSON list");
    for (const auto& item : e) {
      if (!item.is_object()) bad(path, "/evidence/json holds an item that is not an object");
    }
  }
  // Stores written before the tensor scan (or by a merge) have none.
  if (f.exists("/tensor_scan/json")) {
    c.tensor_scan_json = spilled(text(f, "/tensor_scan/json"));
    try {
      if (!parse_json_text(c.tensor_scan_json, path.string() + ":/tensor_scan/json").is_object())
        bad(path, "/tensor_scan/json is not a JSON object");
    } catch (const InputError& err) {
      bad(path, "/tensor_scan/json: " + err.reason());
    }
  }
  if (c.schema_version >= 2) {
    c.unit_checksums = u_col("/units/row_xxh3");
    c.row_checksums = get<std::uint64_t>(f, "/results/row_xxh3");
    require_length(path, "/results/row_xxh3", c.row_checksums, done);
    if (options.verify_checksums) {
      for (std::size_t i = 0; i < n; ++i) {
        if (unit_checksum(c.units[i]) != c.unit_checksums[i]) {
          bad(path, "unit " + std::to_string(i) + " does not match its checksum (/units/row_xxh3)");
        }
      }
      for (std::size_t r = 0; r < done; ++r) {
        if (result_row_checksum(c, r) != c.row_checksums[r]) {
          bad(path, "result row " + std::to_string(r) + " (unit " + std::to_string(c.done_ids[r]) +
                        ") does not match its checksum (/results/row_xxh3)");
        }
      }
    }
  }
  return c;
}

}  // namespace lineage::io
