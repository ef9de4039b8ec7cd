#pragma once
/// @file h5_check.hpp
/// Checked HDF5 calls (HighFive's HDF5ErrMapper idea): every return value is tested right at the
/// call; a failure becomes a StoreError whose message includes HDF5's own error stack, walked
/// from the API call down to the most specific cause.

#include <hdf5.h>

#include <string>

namespace lineage::io::h5detail {

/// The current HDF5 error stack as one line ("H5Dcreate2: unable to create dataset; ...").
std::string error_stack_text();

/// Throws StoreError("<what>: <stack>") when `status` < 0.
void check(herr_t status, const std::string& what);
/// Returns `id`; throws StoreError when it is negative.
hid_t check_id(hid_t id, const std::string& what);

/// Silences HDF5's automatic printing of errors to stderr for its lifetime, so the only report
/// is our exception. Restores the previous handler on destruction.
class SilenceHdf5 {
 public:
  SilenceHdf5() noexcept;
  ~SilenceHdf5();
  SilenceHdf5(const SilenceHdf5&) = delete;
  SilenceHdf5& operator=(const SilenceHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

}  // namespace lineage::io::h5detail
