#pragma once
/// @file h5_handle.hpp
/// Owning RAII wrapper for one HDF5 identifier (file, group, dataset, dataspace, datatype,
/// attribute, property list). Closing never throws: a failed close is logged to stderr.

#include <hdf5.h>

#include <utility>

namespace lineage::io {

class H5Handle {
 public:
  H5Handle() = default;
  /// Takes ownership of a valid id (callers check ids with h5detail::check_id first).
  explicit H5Handle(hid_t id) noexcept : id_(id) {}
  H5Handle(H5Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }

  [[nodiscard]] hid_t id() const noexcept { return id_; }
  [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }
  /// Closes now (nothrow; logs a failure).
  void reset() noexcept;
  /// Gives up ownership without closing (for a caller that closes with a checked call).
  [[nodiscard]] hid_t release() noexcept { return std::exchange(id_, H5I_INVALID_HID); }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

}  // namespace lineage::io
