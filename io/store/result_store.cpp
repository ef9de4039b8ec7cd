#include "io/store/result_store.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/errors.hpp"
#include "io/hdf5/h5_file.hpp"

namespace lineage::io {
namespace {

template <typename T>
void put(H5File& f, const std::string& path, const std::vector<T>& v) {
  f.write<T>(path, std::span<const T>(v), {v.size()});
}

template <typename T>
std::vector<T> get(const H5File& f, const std::string& path) {
  return f.exists(path) ? f.read<T>(path) : std::vector<T>{};
}

std::vector<std::string> strings(const H5File& f, const std::string& path) {
  return f.exists(path) ? f.read_strings(path) : std::vector<std::string>{};
}

std::string text(const H5File& f, const std::string& path) {
  const auto s = strings(f, path);
  return s.empty() ? std::string() : s.front();
}

}  // namespace

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

void write_result_store(const std::filesystem::path& path, const StoreContents& c) {
  // The file is built in memory and written out with plain writes: a full disk or an I/O error is
  // then one failed write() here, never an HDF5 library left half-way through a file.
  std::vector<std::byte> image;
  {
    H5File f(path.string() + ".in-memory", H5File::Mode::create_in_memory);
    f.set_attribute("/", "schema_version", kStoreSchemaVersion);
    f.set_attribute("/", "tool", c.tool_version);
    f.set_attribute("/", "run_id", c.run_id);
    f.set_attribute("/", "status", c.status);
    f.write_strings("/run/config_json", {c.config_json});
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
    // Units: a column table (one dataset per field, row i = unit id i).
    const auto n = c.units.size();
    std::vector<std::string> kind(n), key_a(n), key_b(n), ta(n), tb(n), comp(n), role(n);
    std::vector<std::int32_t> ma(n), mb(n), la(n), lb(n), ex(n);
    std::vector<std::uint64_t> id(n), rows(n), cols(n), bytes(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& u = c.units[i];
      id[i] = u.id, kind[i] = u.kind, key_a[i] = u.key_a, key_b[i] = u.key_b, ta[i] = u.tensor_a;
      tb[i] = u.tensor_b, comp[i] = u.component, role[i] = u.role, ma[i] = u.model_a, mb[i] = u.model_b;
      la[i] = u.layer_a, lb[i] = u.layer_b, ex[i] = u.expert, rows[i] = u.rows, cols[i] = u.cols;
      bytes[i] = u.bytes;
    }
    f.ensure_group("/units");
    put(f, "/units/id", id);
    f.write_strings("/units/kind", kind);
    f.write_strings("/units/key_a", key_a);
    f.write_strings("/units/key_b", key_b);
    f.write_strings("/units/tensor_a", ta);
    f.write_strings("/units/tensor_b", tb);
    f.write_strings("/units/component", comp);
    f.write_strings("/units/role", role);
    put(f, "/units/model_a", ma);
    put(f, "/units/model_b", mb);
    put(f, "/units/layer_a", la);
    put(f, "/units/layer_b", lb);
    put(f, "/units/expert", ex);
    put(f, "/units/rows", rows);
    put(f, "/units/cols", cols);
    put(f, "/units/bytes", bytes);
    f.write_strings("/units/unmatched", c.unmatched);
    f.ensure_group("/plan");
    f.set_attribute("/plan", "ranks", static_cast<std::int64_t>(c.plan_ranks));
    put(f, "/plan/rank_of_unit", c.plan_rank_of_unit);
    put(f, "/plan/bytes_per_rank", c.plan_bytes_per_rank);
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
    for (const auto& [uid, ab] : c.values) {
      const auto g = "/values/" + std::to_string(uid);
      put(f, g + "/a", ab.first);
      put(f, g + "/b", ab.second);
    }
    f.write_strings("/summaries/json", {c.summaries_json});
    f.write_strings("/verdict/json", {c.verdict_json});
    f.write_strings("/evidence/json", {c.evidence_json});
    image = f.image();
    f.close();
  }
  std::string tmpl = path.string() + ".tmp-XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) throw StoreError(path.string() + ": cannot create the store (" + std::strerror(errno) + ")");
  const std::filesystem::path tmp = tmpl;
  try {
    // Durable before it replaces the last good store: a full disk or an I/O error shows here,
    // while the old store is still in place.
    std::size_t done = 0;
    while (done < image.size()) {
      const auto n = ::write(fd, image.data() + done, image.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw StoreError(path.string() + ": cannot write the store: " + std::strerror(n < 0 ? errno : EIO));
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) throw StoreError(path.string() + ": cannot make the store durable: " + std::strerror(errno));
    const int closed = ::close(std::exchange(fd, -1));
    if (closed != 0) throw StoreError(path.string() + ": cannot finish writing the store: " + std::strerror(errno));
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw StoreError(path.string() + ": cannot move the finished store into place: " + ec.message());
  } catch (...) {
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
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

StoreContents read_result_store(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw StoreError(path.string() + ": no such result store");
  H5File f(path, H5File::Mode::read);
  const auto version = f.int_attribute("/", "schema_version");
  if (!version) throw StoreError(path.string() + ": not a lineage result store (no schema_version)");
  if (*version != kStoreSchemaVersion) {
    throw StoreError(path.string() + ": schema version " + std::to_string(*version) + " (this lineage reads " +
                     std::to_string(kStoreSchemaVersion) + ")");
  }
  StoreContents c;
  c.tool_version = f.string_attribute("/", "tool").value_or("");
  c.run_id = f.string_attribute("/", "run_id").value_or("");
  c.status = f.string_attribute("/", "status").value_or("partial");
  c.config_json = text(f, "/run/config_json");
  c.writers = strings(f, "/run/writers");
  const auto labels = strings(f, "/inputs/labels");
  for (std::size_t m = 0; m < labels.size(); ++m) {
    const auto g = "/inputs/" + std::to_string(m);
    StoredModel s;
    s.label = f.string_attribute(g, "label").value_or("");
    s.path = f.string_attribute(g, "path").value_or("");
    s.family = f.string_attribute(g, "family").value_or("");
    s.tensors = static_cast<std::uint64_t>(f.int_attribute(g, "tensors").value_or(0));
    s.shard_files = strings(f, g + "/shard_files");
    s.shard_sizes = get<std::uint64_t>(f, g + "/shard_sizes");
    s.header_hashes = get<std::uint64_t>(f, g + "/header_xxh3");
    s.shard_mtimes_ns = get<std::int64_t>(f, g + "/shard_mtime_ns");
    c.models.push_back(std::move(s));
  }
  const auto id = get<std::uint64_t>(f, "/units/id");
  const auto kind = strings(f, "/units/kind"), key_a = strings(f, "/units/key_a"), key_b = strings(f, "/units/key_b");
  const auto ta = strings(f, "/units/tensor_a"), tb = strings(f, "/units/tensor_b");
  const auto comp = strings(f, "/units/component"), role = strings(f, "/units/role");
  const auto ma = get<std::int32_t>(f, "/units/model_a"), mb = get<std::int32_t>(f, "/units/model_b");
  const auto la = get<std::int32_t>(f, "/units/layer_a"), lb = get<std::int32_t>(f, "/units/layer_b");
  const auto ex = get<std::int32_t>(f, "/units/expert");
  const auto rows = get<std::uint64_t>(f, "/units/rows"), cols = get<std::uint64_t>(f, "/units/cols");
  const auto bytes = f.exists("/units/bytes") ? get<std::uint64_t>(f, "/units/bytes") : std::vector<std::uint64_t>{};
  for (std::size_t i = 0; i < id.size(); ++i) {
    c.units.push_back({id[i], kind[i], key_a[i], key_b[i], ta[i], tb[i], ma[i], mb[i], la[i], lb[i], ex[i], comp[i],
                       role[i], rows[i], cols[i], i < bytes.size() ? bytes[i] : 0});
  }
  c.unmatched = strings(f, "/units/unmatched");
  c.plan_ranks = static_cast<std::int32_t>(f.int_attribute("/plan", "ranks").value_or(1));
  c.plan_rank_of_unit = get<std::int32_t>(f, "/plan/rank_of_unit");
  c.plan_bytes_per_rank = get<std::uint64_t>(f, "/plan/bytes_per_rank");
  c.stat_names = strings(f, "/results/stat_names");
  c.done_ids = get<std::uint64_t>(f, "/results/unit_id");
  c.stats = get<double>(f, "/results/stats");
  c.hash_a = get<std::uint64_t>(f, "/results/hash_a");
  c.hash_b = get<std::uint64_t>(f, "/results/hash_b");
  if (f.exists("/values")) {
    for (const auto& name : f.children("/values")) {
      const auto g = "/values/" + name;
      c.values[std::stoull(name)] = {get<float>(f, g + "/a"), get<float>(f, g + "/b")};
    }
  }
  c.summaries_json = text(f, "/summaries/json");
  c.verdict_json = text(f, "/verdict/json");
  // Stores written before evidence existed have no /evidence: nothing recorded yet.
  if (f.exists("/evidence/json")) c.evidence_json = text(f, "/evidence/json");
  return c;
}

}  // namespace lineage::io
