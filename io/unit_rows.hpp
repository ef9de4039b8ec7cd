#pragma once
/// @file unit_rows.hpp
/// Results that only some units have (per-expert sketches, the joint test's relabellings, neuron
/// matchings, decoded norm and router values: UnitValues), kept by unit id in flat spilled buffers. As maps of small
/// vectors they cost a tree node and one or two heap blocks a unit beside their values, about 0.5 KB a unit on rank 0
/// of a deep MoE pair, none of which could spill (docs/benchmarks.md). A store's unit ids are dense (0..n-1), so a row
/// is found through an array indexed by id, not a search.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "core/errors.hpp"
#include "io/spilled_vector.hpp"

namespace lineage::io {

template <typename T>
class UnitRows {
 public:
  /// One unit's row: a run of values, or two halves of equal length (side A's, then side B's).
  struct Row {
    std::uint64_t id = 0;
    std::span<const T> values;
    /// The halves of a row put as two.
    [[nodiscard]] std::span<const T> a() const noexcept { return values.first(values.size() / 2); }
    [[nodiscard]] std::span<const T> b() const noexcept { return values.last(values.size() / 2); }
  };

  /// Unit ids at or past this are refused (a store of 2^32 units is not a model).
  static constexpr std::uint64_t kIdLimit = std::uint64_t{1} << 32;

  UnitRows() = default;
  UnitRows(const UnitRows&) = default;
  UnitRows& operator=(const UnitRows&) = default;
  /// A moved-from object is empty (its counts go with its buffers).
  UnitRows(UnitRows&& other) noexcept { take(other); }
  UnitRows& operator=(UnitRows&& other) noexcept {
    if (this != &other) take(other);
    return *this;
  }
  ~UnitRows() = default;

  /// Puts `values` as unit `id`'s row, replacing the row it had. `values` must not view this
  /// object's own rows (refused: the buffer may move as it grows).
  void put(std::uint64_t id, std::span<const T> values) { put_row(id, values, {}); }
  /// Puts the row of halves `a` and `b`, which must be of one length.
  void put(std::uint64_t id, std::span<const T> a, std::span<const T> b) {
    if (a.size() != b.size()) {
      throw InternalError("UnitRows: the halves of unit " + std::to_string(id) + "'s row differ in length");
    }
    put_row(id, a, b);
  }
  /// Puts the row of `a` then `b`, of any lengths (UnitValues keeps where `a` ends).
  void put_runs(std::uint64_t id, std::span<const T> a, std::span<const T> b) { put_row(id, a, b); }

  [[nodiscard]] std::optional<Row> find(std::uint64_t id) const noexcept {
    if (id >= slot_.size() || slot_[id] == kNone) return std::nullopt;
    return row(id, slot_[id] - 1);
  }
  [[nodiscard]] bool contains(std::uint64_t id) const noexcept { return id < slot_.size() && slot_[id] != kNone; }
  /// Units with a row.
  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  [[nodiscard]] bool empty() const noexcept { return live_ == 0; }
  /// Drops every row and gives their buffers back.
  void clear() noexcept { *this = UnitRows(); }

  /// Rows in ascending unit id.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Row;

    Iterator() = default;
    Iterator(const UnitRows* rows, std::uint64_t id) : rows_(rows), id_(id) { skip_empty(); }
    Row operator*() const noexcept { return rows_->row(id_, rows_->slot_[id_] - 1); }
    Iterator& operator++() noexcept {
      ++id_;
      skip_empty();
      return *this;
    }
    Iterator operator++(int) noexcept {
      auto before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& other) const noexcept { return id_ == other.id_; }

   private:
    void skip_empty() noexcept {
      while (id_ < rows_->slot_.size() && rows_->slot_[id_] == kNone) ++id_;
    }
    const UnitRows* rows_ = nullptr;
    std::uint64_t id_ = 0;
  };
  [[nodiscard]] Iterator begin() const noexcept { return Iterator(this, 0); }
  [[nodiscard]] Iterator end() const noexcept { return Iterator(this, slot_.size()); }

  /// The same units with the same values (not the same buffers: replaced rows do not count).
  friend bool operator==(const UnitRows& x, const UnitRows& y) noexcept {
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      const auto p = *i, q = *j;
      if (p.id != q.id || !std::equal(p.values.begin(), p.values.end(), q.values.begin(), q.values.end())) {
        return false;
      }
    }
    return true;
  }

 private:
  static constexpr std::uint32_t kNone = 0;

  [[nodiscard]] Row row(std::uint64_t id, std::uint32_t index) const noexcept {
    const auto first = index == 0 ? 0 : ends_[index - 1];
    return {id, std::span<const T>(values_.data() + first, ends_[index] - first)};
  }

  void take(UnitRows& other) noexcept {
    slot_ = std::move(other.slot_);
    ends_ = std::move(other.ends_);
    values_ = std::move(other.values_);
    other.slot_.clear();
    other.ends_.clear();
    other.values_.clear();
    live_ = std::exchange(other.live_, 0);
    replaced_rows_ = std::exchange(other.replaced_rows_, 0);
    replaced_values_ = std::exchange(other.replaced_values_, 0);
  }

  [[nodiscard]] bool views_own_values(std::span<const T> s) const noexcept {
    const std::less<const T*> before;
    return !s.empty() && !values_.empty() && !before(s.data(), values_.data()) &&
           before(s.data(), values_.data() + values_.size());
  }

  void put_row(std::uint64_t id, std::span<const T> a, std::span<const T> b) {
    if (id >= kIdLimit) throw InternalError("UnitRows: unit id " + std::to_string(id) + " is past 2^32");
    if (ends_.size() + 1 >= std::uint64_t{UINT32_MAX}) throw InternalError("UnitRows: more than 2^32 rows put");
    if (views_own_values(a) || views_own_values(b)) {
      throw InternalError("UnitRows: unit " + std::to_string(id) + "'s row views the rows it is put into");
    }
    if (id >= slot_.size()) slot_.resize(id + 1, kNone);
    // The row is appended first and the counts change only once it is in: a failed allocation
    // leaves the rows as they were.
    const auto values_before = values_.size();
    try {
      values_.insert(values_.end(), a.begin(), a.end());
      values_.insert(values_.end(), b.begin(), b.end());
      ends_.push_back(values_.size());
    } catch (...) {
      values_.resize(values_before);
      throw;
    }
    if (slot_[id] == kNone) {
      ++live_;
    } else {
      replaced_values_ += row(id, slot_[id] - 1).values.size();
      ++replaced_rows_;
    }
    slot_[id] = static_cast<std::uint32_t>(ends_.size());
    // Replaced rows stay in the buffer until they are more than half of it (a resumed unit puts
    // its row again); then the live rows are copied out in id order. The row is in either way:
    // a compaction without memory for its copy (it throws only before it changes anything) is
    // left for a later put, so a put that returns has always put, and one that throws has not.
    if (replaced_rows_ * 2 > ends_.size() || replaced_values_ * 2 > values_.size()) {
      try {
        compact();
      } catch (const std::bad_alloc&) {  // NOLINT(bugprone-empty-catch): compaction is optional
      }
    }
  }

  void compact() {
    SpilledVector<std::uint64_t> ends;
    SpilledVector<T> values;
    ends.reserve(live_);
    values.reserve(values_.size() - replaced_values_);
    for (std::uint64_t id = 0; id < slot_.size(); ++id) {
      if (slot_[id] == kNone) continue;
      const auto r = row(id, slot_[id] - 1);
      values.insert(values.end(), r.values.begin(), r.values.end());
      ends.push_back(values.size());
      slot_[id] = static_cast<std::uint32_t>(ends.size());
    }
    ends_.swap(ends);
    values_.swap(values);
    replaced_values_ = 0;
    replaced_rows_ = 0;
  }

  SpilledVector<std::uint32_t> slot_;  ///< by unit id: 1 + its row's index, kNone without one
  SpilledVector<std::uint64_t> ends_;  ///< by row: one past its last value in values_
  SpilledVector<T> values_;
  std::size_t live_ = 0;
  std::uint64_t replaced_rows_ = 0;    ///< rows since replaced, still in ends_
  std::uint64_t replaced_values_ = 0;  ///< and their values, still in values_
};

/// Decoded values of both sides by unit id (norm vectors, routers: the store's /values), in
/// spilled buffers like UnitRows. The sides may differ in length: a router whose expert count
/// differs keeps every row of each side.
class UnitValues {
 public:
  struct Entry {
    std::uint64_t id = 0;
    std::span<const float> a;
    std::span<const float> b;
  };

  /// Puts unit `id`'s values, replacing those it had; neither side may view this object's own.
  void put(std::uint64_t id, std::span<const float> a, std::span<const float> b) {
    if (id < UnitRows<float>::kIdLimit && id >= a_length_.size()) a_length_.resize(id + 1, 0);
    rows_.put_runs(id, a, b);  // leaves the rows as they were if it throws
    a_length_[id] = a.size();
  }
  [[nodiscard]] std::optional<Entry> find(std::uint64_t id) const noexcept {
    const auto row = rows_.find(id);
    if (!row) return std::nullopt;
    return entry(*row);
  }
  [[nodiscard]] bool contains(std::uint64_t id) const noexcept { return rows_.contains(id); }
  [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }
  [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }
  void clear() noexcept {
    rows_.clear();
    a_length_ = SpilledVector<std::uint64_t>();
  }

  /// Entries in ascending unit id.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Entry;

    Iterator() = default;
    Iterator(const UnitValues* values, UnitRows<float>::Iterator at) : values_(values), at_(at) {}
    Entry operator*() const noexcept { return values_->entry(*at_); }
    Iterator& operator++() noexcept {
      ++at_;
      return *this;
    }
    Iterator operator++(int) noexcept {
      auto before = *this;
      ++at_;
      return before;
    }
    bool operator==(const Iterator& other) const noexcept { return at_ == other.at_; }

   private:
    const UnitValues* values_ = nullptr;
    UnitRows<float>::Iterator at_;
  };
  [[nodiscard]] Iterator begin() const noexcept { return {this, rows_.begin()}; }
  [[nodiscard]] Iterator end() const noexcept { return {this, rows_.end()}; }

  /// The same units with the same values on each side.
  friend bool operator==(const UnitValues& x, const UnitValues& y) noexcept {
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
      const auto p = *i, q = *j;
      if (p.id != q.id || !std::equal(p.a.begin(), p.a.end(), q.a.begin(), q.a.end()) ||
          !std::equal(p.b.begin(), p.b.end(), q.b.begin(), q.b.end())) {
        return false;
      }
    }
    return true;
  }

 private:
  [[nodiscard]] Entry entry(const UnitRows<float>::Row& row) const noexcept {
    const auto a = static_cast<std::size_t>(a_length_[row.id]);
    return {row.id, row.values.first(a), row.values.subspan(a)};
  }

  UnitRows<float> rows_;                   ///< by unit id: side A's values, then side B's
  SpilledVector<std::uint64_t> a_length_;  ///< by unit id: where side A's values end in its row
};

}  // namespace lineage::io
