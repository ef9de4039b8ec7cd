#pragma once
/// @file byte_record.hpp
/// Flat binary records of trivially copyable values and vectors of them, in the host's byte order:
/// the payloads of journal records and of the messages ranks exchange. Both ends are the same
/// build of lineage, so no format negotiation is needed beyond each record's own version field.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "core/errors.hpp"

namespace lineage {

template <typename T>
void append_value(std::vector<std::byte>& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

/// The length as a uint64, then the elements.
template <typename T>
void append_vector(std::vector<std::byte>& out, const std::vector<T>& values) {
  static_assert(std::is_trivially_copyable_v<T>);
  append_value(out, static_cast<std::uint64_t>(values.size()));
  const auto* p = reinterpret_cast<const std::byte*>(values.data());
  out.insert(out.end(), p, p + values.size() * sizeof(T));
}

/// Reads what append_value/append_vector wrote. A record shorter than its fields throws
/// InternalError naming the record (`what`): its integrity is checked before it is read (journal
/// checksums, MPI), so a short one is a bug or a version mismatch, not bad input.
class ByteRecordReader {
 public:
  /// @param[in] what  the record's name for the error message (a literal: it is kept, not copied)
  ByteRecordReader(std::span<const std::byte> record, const char* what) : in_(record), what_(what) {}

  template <typename T>
  T value() {
    static_assert(std::is_trivially_copyable_v<T>);
    if (sizeof(T) > in_.size() - pos_) truncated();
    T v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  template <typename T>
  std::vector<T> vector() {
    const auto n = value<std::uint64_t>();
    if (n > (in_.size() - pos_) / sizeof(T)) truncated();
    std::vector<T> v(n);
    // memcpy from or to the null data() of an empty vector is undefined even for 0 bytes.
    if (n != 0) std::memcpy(v.data(), in_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }

  /// The next n bytes as they are (a nested record).
  std::span<const std::byte> bytes(std::uint64_t n) {
    if (n > in_.size() - pos_) truncated();
    const auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

 private:
  [[noreturn]] void truncated() const { throw InternalError(std::string(what_) + " is truncated"); }

  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  const char* what_;
};

}  // namespace lineage
