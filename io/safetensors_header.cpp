#include "io/safetensors_header.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/errors.hpp"
#include "io/json_text.hpp"
#include "io/model_folder.hpp"
#include "io/model_source.hpp"
#include "io/plain_json.hpp"

namespace lineage::io {
namespace {

constexpr std::uint64_t kDataStartBase = 8;
/// Most members reserved ahead (more than the 100k of the largest real headers; more grow).
constexpr std::size_t kMaxReserved = std::size_t{1} << 18;
/// Fewer bytes than any entry takes: "a":{"dtype":"F32","shape":[],"data_offsets":[0,0]} is 49.
constexpr std::size_t kMinEntryBytes = 32;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& reason, const std::string& tensor = {},
                       std::optional<std::uint64_t> offset = std::nullopt) {
  throw InputError(path.string(), reason, tensor, offset);
}

/// One top-level member of the header as the SAX pass saw it, checked afterwards (in name order,
/// as the DOM reading that this pass replaced reported its first problem).
struct RawMember {
  std::string name;
  std::size_t position = 0;  ///< order in the file
  bool is_object = false;
  // An entry's fields; of repeated fields the last counts (as in a JSON DOM).
  std::optional<std::string> dtype;  ///< when "dtype" is a string
  bool has_shape = false, shape_is_array = false, shape_unsigned = true;
  std::vector<std::uint64_t> shape;
  bool has_offsets = false, offsets_valid = false;
  // Only two offsets are valid: the first two kept, all counted (no allocation per entry).
  std::array<std::uint64_t, 2> offsets{};
  std::size_t offsets_count = 0;
  bool offsets_unsigned = true;
  // __metadata__'s values (nullopt: not a string); of repeated keys the last counts.
  std::map<std::string, std::optional<std::string>> metadata;
};

/// One pass over the header JSON that builds the members directly: no DOM, no second pass for
/// duplicate names. On a 100k-tensor checkpoint the DOM and the duplicate pass were a quarter of
/// `lineage plan`.
class HeaderReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<RawMember> members;
  bool top_is_object = false;
  JsonSyntaxError error;  ///< why the JSON is malformed

  bool null() override { return scalar(Scalar::other); }
  bool boolean(bool) override { return scalar(Scalar::other); }
  bool number_integer(number_integer_t) override { return scalar(Scalar::other); }
  bool number_unsigned(number_unsigned_t v) override {
    value_ = v;
    return scalar(Scalar::unsigned_number);
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(Scalar::other); }
  bool string(string_t& v) override {
    text_ = &v;
    return scalar(Scalar::string);
  }
  bool binary(binary_t&) override { return scalar(Scalar::other); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    if (depth_ == 1) {
      members.push_back({});
      members.back().name = k;
      members.back().position = members.size() - 1;
    } else if (depth_ == 2 && in_member_object()) {
      field_ = field_of(k);
      if (metadata_) metadata_key_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return error.capture(e);
  }

 private:
  enum class Scalar { unsigned_number, string, other };
  enum class Field { none, dtype, shape, offsets };

  static Field field_of(const std::string& k) {
    if (k == "dtype") return Field::dtype;
    if (k == "shape") return Field::shape;
    if (k == "data_offsets") return Field::offsets;
    return Field::none;
  }
  [[nodiscard]] bool in_member_object() const { return !members.empty() && members.back().is_object; }

  bool scalar(Scalar kind) {
    if (skip_ > 0) return true;
    if (depth_ == 0) return true;  // a scalar document: not an object
    if (depth_ == 1) return true;  // a member that is not an object (is_object stays false)
    auto& m = members.back();
    if (depth_ == 2 && in_member_object()) {
      if (metadata_) {
        m.metadata[metadata_key_] = kind == Scalar::string ? std::optional<std::string>(*text_) : std::nullopt;
        return true;
      }
      if (field_ == Field::dtype) {
        m.dtype = kind == Scalar::string ? std::optional<std::string>(*text_) : std::nullopt;
      } else if (field_ == Field::shape) {
        m.has_shape = true;
        m.shape_is_array = false;
      } else if (field_ == Field::offsets) {
        m.has_offsets = true;
        m.offsets_valid = false;
      }
      return true;
    }
    if (depth_ == 3 && array_field_ != Field::none) {  // an element of shape or data_offsets
      const bool ok = kind == Scalar::unsigned_number;
      if (array_field_ == Field::shape) {
        if (ok) m.shape.push_back(value_);
        m.shape_unsigned = m.shape_unsigned && ok;
      } else {
        if (ok && m.offsets_count < m.offsets.size()) m.offsets[m.offsets_count] = value_;
        m.offsets_count += ok;
        m.offsets_unsigned = m.offsets_unsigned && ok;
      }
    }
    return true;
  }

  bool open(bool object) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (depth_ == 0) {
      top_is_object = object;
      if (!object)
        ++skip_;
      else
        depth_ = 1;
      return true;
    }
    if (depth_ == 1) {  // a member's value
      auto& m = members.back();
      if (!object) {
        ++skip_;
        return true;
      }
      m.is_object = true;
      metadata_ = m.name == "__metadata__";
      field_ = Field::none;
      depth_ = 2;
      return true;
    }
    if (depth_ == 2 && in_member_object() && !metadata_ && !object &&
        (field_ == Field::shape || field_ == Field::offsets)) {
      auto& m = members.back();
      array_field_ = field_;
      if (field_ == Field::shape) {
        m.has_shape = m.shape_is_array = m.shape_unsigned = true;
        m.shape.clear();
        m.shape.reserve(4);  // one allocation for the usual ranks, not one per doubling
      } else {
        m.has_offsets = m.offsets_valid = m.offsets_unsigned = true;
        m.offsets_count = 0;
      }
      depth_ = 3;
      return true;
    }
    // Anything else nested is skipped whole; as a field's value it makes the field invalid.
    if (depth_ == 2 && in_member_object()) {
      auto& m = members.back();
      if (metadata_)
        m.metadata[metadata_key_] = std::nullopt;
      else if (field_ == Field::dtype)
        m.dtype = std::nullopt;
      else if (field_ == Field::shape)
        m.has_shape = true, m.shape_is_array = false;
      else if (field_ == Field::offsets)
        m.has_offsets = true, m.offsets_valid = false;
    } else if (depth_ == 3) {
      auto& m = members.back();
      if (array_field_ == Field::shape)
        m.shape_unsigned = false;
      else
        m.offsets_unsigned = false;
    }
    ++skip_;
    return true;
  }

  bool close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    if (depth_ == 3) array_field_ = Field::none;
    if (depth_ == 2) metadata_ = false;
    --depth_;
    return true;
  }

  int depth_ = 0;  ///< 1: in the top object, 2: in a member object, 3: in one of its arrays
  int skip_ = 0;   ///< nesting depth inside a value that is not read
  bool metadata_ = false;
  Field field_ = Field::none;
  Field array_field_ = Field::none;
  std::string metadata_key_;
  std::uint64_t value_ = 0;
  const std::string* text_ = nullptr;
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
  HeaderReader reader;
  // One brace per entry and one around them: the members' count, reserved so that the members
  // (a few hundred bytes each) are not moved at every doubling.
  // (Capped by the text's size and a count: braces inside names or nested values must not
  // reserve hundreds of megabytes.)
  reader.members.reserve(std::min({static_cast<std::size_t>(std::count(json.begin(), json.end(), '{')),
                                   json.size() / kMinEntryBytes, kMaxReserved}));
  if (!sax_parse_plain_json(json, reader)) {
    reader = HeaderReader();  // not plain JSON: nlohmann reads it, or says what is wrong
    if (!nlohmann::json::sax_parse(json, &reader)) {
      fail(path, reader.error.reason("JSON header"), {}, kDataStartBase + reader.error.offset());
    }
  }
  auto& members = reader.members;
  // Name order (stable: of equal names, file order) finds duplicates and gives the order problems
  // are reported in.
  std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  // The first duplicate in the file: the one whose second occurrence comes first.
  const RawMember* duplicate = nullptr;
  for (std::size_t i = 1; i < members.size(); ++i) {
    if (members[i].name == members[i - 1].name && (!duplicate || members[i].position < duplicate->position)) {
      duplicate = &members[i];
    }
  }
  if (duplicate) fail(path, "duplicate tensor name in header", duplicate->name, kDataStartBase);
  if (!reader.top_is_object) fail(path, "header is not a JSON object", {}, kDataStartBase);

  h.tensors.reserve(members.size());
  for (auto& m : members) {
    const std::string& name = m.name;
    if (name == "__metadata__") {
      if (!m.is_object) fail(path, "__metadata__ is not an object", {}, kDataStartBase);
      for (auto& [key, value] : m.metadata) {
        if (!value) fail(path, "__metadata__ value '" + key + "' is not a string");
        h.metadata[key] = std::move(*value);
      }
      continue;
    }
    if (!m.is_object) fail(path, "entry is not an object", name, kDataStartBase);
    SafetensorsEntry e;
    if (!m.dtype) fail(path, "missing dtype", name, kDataStartBase);
    const auto parsed = parse_dtype(*m.dtype);
    if (!parsed) fail(path, "unknown dtype '" + *m.dtype + "'", name, kDataStartBase);
    e.dtype = *parsed;
    if (!m.has_shape || !m.shape_is_array) fail(path, "missing or non-list shape", name, kDataStartBase);
    if (!m.shape_unsigned) fail(path, "shape holds a non-integer or negative", name, kDataStartBase);
    e.shape = std::move(m.shape);
    if (!m.has_offsets || !m.offsets_valid || m.offsets_count != 2 || !m.offsets_unsigned) {
      fail(path, "data_offsets must be [begin, end]", name, kDataStartBase);
    }
    const auto begin = m.offsets[0];
    const auto end = m.offsets[1];
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
    e.name = std::move(m.name);
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
  const RegularFile file(path);
  const auto file_size = file.size();
  const int fd = file.fd();
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
