#include "io/checkpoint_index.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "io/checkpoint_listing.hpp"
#include "io/json_text.hpp"
#include "io/model_source.hpp"
#include "io/plain_json.hpp"

namespace lineage::io {
namespace {

/// A metadata count: an unsigned number, or a string std::stoull reads.
std::optional<std::uint64_t> count_of_text(const std::string& text) {
  try {
    return std::stoull(text);
  } catch (...) {
    return std::nullopt;
  }
}

class IndexReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  CheckpointIndex index;
  bool weight_map_is_object = false;
  JsonSyntaxError error;

  bool null() override { return scalar(std::nullopt, nullptr); }
  bool boolean(bool) override { return scalar(std::nullopt, nullptr); }
  bool number_integer(number_integer_t) override { return scalar(std::nullopt, nullptr); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(v, nullptr); }
  bool number_float(number_float_t, const string_t&) override { return scalar(std::nullopt, nullptr); }
  bool string(string_t& v) override { return scalar(std::nullopt, &v); }
  bool binary(binary_t&) override { return scalar(std::nullopt, nullptr); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (skip_ > 0) return true;
    if (depth_ == 1) {
      section_ = k == "weight_map" ? Section::weight_map : k == "metadata" ? Section::metadata : Section::other;
    } else if (depth_ == 2) {
      key_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return error.capture(e);
  }

 private:
  enum class Section { other, weight_map, metadata };

  /// A later "weight_map" or "metadata" replaces an earlier one (of repeated keys the last counts).
  void replace_section(bool object) {
    if (section_ == Section::weight_map) {
      index.entries.clear();
      weight_map_is_object = object;
    } else if (section_ == Section::metadata) {
      index.total_size.reset();
      index.total_parameters.reset();
    }
  }

  bool scalar(std::optional<std::uint64_t> number, const std::string* text) {
    if (skip_ > 0 || depth_ == 0) return true;
    if (depth_ == 1) {
      replace_section(false);
      return true;
    }
    value(number, text);
    return true;
  }

  /// A value in the weight map or the metadata (depth 2); a nested one arrives as neither.
  void value(std::optional<std::uint64_t> number, const std::string* text) {
    if (section_ == Section::weight_map) {
      index.entries.emplace_back(key_, text ? std::optional<std::string>(*text) : std::nullopt);
    } else if (section_ == Section::metadata && (key_ == "total_size" || key_ == "total_parameters")) {
      auto& slot = key_ == "total_size" ? index.total_size : index.total_parameters;
      slot = number ? number : text ? count_of_text(*text) : std::nullopt;
    }
  }

  bool open(bool object) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (depth_ == 0) {
      if (!object)
        ++skip_;
      else
        depth_ = 1;
      return true;
    }
    if (depth_ == 1) {
      replace_section(object);
      if (object && section_ != Section::other) {
        depth_ = 2;
        return true;
      }
    } else {
      value(std::nullopt, nullptr);
    }
    ++skip_;
    return true;
  }

  bool close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    --depth_;
    return true;
  }

  int depth_ = 0;  ///< 1: in the top object, 2: in the weight map or the metadata
  int skip_ = 0;   ///< nesting depth inside a value that is not read
  Section section_ = Section::other;
  std::string key_;
};

}  // namespace

CheckpointIndex parse_checkpoint_index(std::string_view text, const std::string& where) {
  if (const auto at = json_too_deep(text)) {
    throw InputError(where, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", {}, *at);
  }
  IndexReader reader;
  // One colon per weight-map entry (and a few more): reserved, not grown by doubling. Capped by
  // a count (more than the 100k entries of the largest real indexes; more grow) and by the
  // text's size ("a":"b", is 8 bytes), so that colons inside names do not reserve much more.
  constexpr std::size_t kMaxReserved = std::size_t{1} << 18;
  constexpr std::size_t kMinEntryBytes = 8;
  reader.index.entries.reserve(std::min({static_cast<std::size_t>(std::count(text.begin(), text.end(), ':')),
                                         text.size() / kMinEntryBytes, kMaxReserved}));
  if (!sax_parse_plain_json(text, reader)) {
    reader = IndexReader();  // not plain JSON: nlohmann reads it, or says what is wrong
    if (!nlohmann::json::sax_parse(text, &reader)) {
      throw InputError(where, reader.error.reason(), {}, reader.error.offset());
    }
  }
  if (!reader.weight_map_is_object) throw InputError(where, "no weight_map object");
  auto& entries = reader.index.entries;
  // Name order; of repeated names the last (stable sort keeps file order among equals).
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  entries.resize(kept);
  reader.index.where = where;
  return std::move(reader.index);
}

std::optional<CheckpointIndex> read_checkpoint_index(ModelSource& source) {
  const auto text = source.read_file(kIndexFileName);
  if (!text) return std::nullopt;
  return parse_checkpoint_index(*text, source.where(kIndexFileName));
}

}  // namespace lineage::io
