#include "io/safetensors_header.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "io/model_folder.hpp"
#include "io/model_source.hpp"

namespace lineage::io {
namespace {

constexpr std::uint64_t kDataStartBase = 8;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& reason, const std::string& tensor = {},
                       std::optional<std::uint64_t> offset = std::nullopt) {
  throw InputError(path.string(), reason, tensor, offset);
}

/// Records top-level object keys and the first duplicate among them.
struct TopLevelKeys : nlohmann::json_sax<nlohmann::json> {
  int depth = 0;
  std::unordered_set<std::string> seen;
  std::string duplicate;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_object() override {
    --depth;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth;
    return true;
  }
  bool end_array() override {
    --depth;
    return true;
  }
  bool key(string_t& k) override {
    if (depth == 1 && duplicate.empty() && !seen.insert(k).second) duplicate = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }

}  // namespace

std::uint64_t SafetensorsEntry::elements() const noexcept {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const SafetensorsEntry* SafetensorsHeader::find(std::string_view name) const noexcept {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

SafetensorsHeader parse_safetensors_header(const std::filesystem::path& path, std::string_view json,
                                           std::uint64_t file_size) {
  SafetensorsHeader h;
  h.path = path;
  h.file_size = file_size;
  h.header_length = json.size();
  h.header_hash = XXH3_64bits(json.data(), json.size());
  const std::uint64_t data_start = kDataStartBase + json.size();

  if (const auto at = json_too_deep(json)) {
    fail(path, "JSON header nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", {}, kDataStartBase + *at);
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, "malformed JSON header: " + json_error_without_content(e.what()), {},
         kDataStartBase + (e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::exception&) {
    // 406: a number beyond double's range (its message would quote the header's text).
    fail(path, "malformed JSON header: a number too large to represent", {}, kDataStartBase);
  }
  // nlohmann keeps the last of duplicate keys silently; a DOM-free SAX pass over the (valid)
  // JSON finds them. (Its parse callback would do it too, but 20x slower on 100k-entry headers.)
  TopLevelKeys keys;
  nlohmann::json::sax_parse(json, &keys);
  const std::string duplicate = keys.duplicate;
  if (!duplicate.empty()) fail(path, "duplicate tensor name in header", duplicate, kDataStartBase);
  if (!doc.is_object()) fail(path, "header is not a JSON object", {}, kDataStartBase);

  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object", {}, kDataStartBase);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value '" + m.key() + "' is not a string");
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(path, "entry is not an object", name, kDataStartBase);
    SafetensorsEntry e;
    e.name = name;
    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail(path, "missing dtype", name, kDataStartBase);
    const auto parsed = parse_dtype(dt->get<std::string>());
    if (!parsed) fail(path, "unknown dtype '" + dt->get<std::string>() + "'", name, kDataStartBase);
    e.dtype = *parsed;
    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail(path, "missing or non-list shape", name, kDataStartBase);
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) fail(path, "shape holds a non-integer or negative", name, kDataStartBase);
      e.shape.push_back(d.get<std::uint64_t>());
    }
    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      fail(path, "data_offsets must be [begin, end]", name, kDataStartBase);
    }
    const auto begin = (*off)[0].get<std::uint64_t>();
    const auto end = (*off)[1].get<std::uint64_t>();
    if (begin > end) fail(path, "data_offsets begin > end", name, data_start + begin);
    if (end > file_size - std::min(file_size, data_start)) {
      fail(path,
           "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
               ") run past the end of the file (data section holds " +
               std::to_string(file_size - std::min(file_size, data_start)) + " bytes)",
           name, data_start + begin);
    }
    std::uint64_t expected = dtype_size(e.dtype);
    for (auto d : e.shape) {
      if (mul_overflows(expected, d, expected)) fail(path, "shape size overflows", name, data_start + begin);
    }
    if (end - begin != expected) {
      fail(path,
           "byte length " + std::to_string(end - begin) + " != product(shape) x " +
               std::to_string(dtype_size(e.dtype)) + " = " + std::to_string(expected),
           name, data_start + begin);
    }
    e.data_begin = data_start + begin;
    e.data_end = data_start + end;
    h.tensors.push_back(std::move(e));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const auto& a, const auto& b) {
    return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
  });
  for (std::size_t i = 1; i < h.tensors.size(); ++i) {
    const auto& prev = h.tensors[i - 1];
    const auto& cur = h.tensors[i];
    if (cur.data_begin < prev.data_end) {
      fail(path, "data overlaps tensor '" + prev.name + "'", cur.name, cur.data_begin);
    }
  }
  return h;
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  std::uint64_t file_size = 0;
  const int fd = open_regular_file(path, file_size);  // a FIFO or device is refused, not waited on
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (file_size < 8)
    fail(path, "file is " + std::to_string(file_size) + " bytes, too short for a safetensors header", {}, 0);
  std::uint64_t n = 0;
  if (::pread(fd, &n, 8, 0) != 8) fail(path, "cannot read header length", {}, 0);
  if (n > kMaxSafetensorsHeader) {
    fail(path,
         "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxSafetensorsHeader) + "-byte limit",
         {}, 0);
  }
  if (n > file_size - 8) {
    fail(path,
         "header length " + std::to_string(n) + " is larger than the file (" + std::to_string(file_size) + " bytes)",
         {}, 0);
  }
  std::string json(n, '\0');
  std::uint64_t got = 0;
  while (got < n) {
    const auto r = ::pread(fd, json.data() + got, n - got, static_cast<off_t>(8 + got));
    if (r <= 0) fail(path, "cannot read header", {}, 8 + got);
    got += static_cast<std::uint64_t>(r);
  }
  return parse_safetensors_header(path, json, file_size);
}

std::optional<SafetensorsHeader> read_safetensors_header(ModelSource& source, const std::string& file) {
  const auto where = source.where(file);
  std::uint64_t file_size = 0;
  const auto head = source.read_range(file, 0, 8, file_size);
  if (!head) return std::nullopt;
  if (file_size < 8 || head->size() < 8)
    fail(where, "file is " + std::to_string(file_size) + " bytes, too short for a safetensors header", {}, 0);
  std::uint64_t n = 0;
  std::memcpy(&n, head->data(), 8);  // little-endian, like the host (x86-64, aarch64)
  if (n > kMaxSafetensorsHeader) {
    fail(where,
         "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxSafetensorsHeader) + "-byte limit",
         {}, 0);
  }
  if (n > file_size - 8) {
    fail(where,
         "header length " + std::to_string(n) + " is larger than the file (" + std::to_string(file_size) + " bytes)",
         {}, 0);
  }
  std::string json;
  if (n > 0) {
    std::uint64_t size_again = 0;
    auto body = source.read_range(file, 8, n, size_again);
    if (!body || size_again != file_size) fail(where, "the file changed while its header was read", {}, 8);
    if (body->size() != n) fail(where, "cannot read header", {}, 8 + body->size());
    json = std::move(*body);
  }
  return parse_safetensors_header(where, json, file_size);
}

std::uint64_t implied_file_size(const SafetensorsHeader& header) noexcept {
  std::uint64_t end = 8 + header.header_length;
  for (const auto& t : header.tensors) end = std::max(end, t.data_end);
  return end;
}

}  // namespace lineage::io
