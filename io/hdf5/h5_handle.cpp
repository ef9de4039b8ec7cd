#include "io/hdf5/h5_handle.hpp"

#include <iostream>

namespace lineage::io {

void H5Handle::reset() noexcept {
  if (id_ < 0) return;
  // H5Idec_ref closes any kind of id when its count drops to zero.
  if (H5Iis_valid(id_) > 0 && H5Idec_ref(id_) < 0) {
    std::cerr << "lineage: warning: failed to close an HDF5 object\n";
  }
  id_ = H5I_INVALID_HID;
}

}  // namespace lineage::io
