#include "io/hdf5/detail/h5_check.hpp"

#include "core/errors.hpp"

namespace lineage::io::h5detail {
namespace {

herr_t collect(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n > 0) *out += "; ";
  *out += err->func_name ? err->func_name : "?";
  *out += ": ";
  *out += err->desc ? err->desc : "?";
  return 0;
}

}  // namespace

std::string error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &text);
  return text.empty() ? std::string("no HDF5 error details") : text;
}

void check(herr_t status, const std::string& what) {
  if (status < 0) throw StoreError(what + ": " + error_stack_text());
}

hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw StoreError(what + ": " + error_stack_text());
  return id;
}

SilenceHdf5::SilenceHdf5() noexcept {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceHdf5::~SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

}  // namespace lineage::io::h5detail
