#include "io/hdf5/h5_file.hpp"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <limits>
#include <string_view>

#include "core/errors.hpp"
#include "io/hdf5/detail/h5_check.hpp"

namespace lineage::io {
namespace {

using h5detail::check;
using h5detail::check_id;
using h5detail::SilenceHdf5;

/// The conversion and background buffers of a string write (write_string_pointer_rows): under the
/// 1 MiB at which the heap maps blocks of their own after the pass.
constexpr std::size_t kStringConversionBufferBytes = std::size_t{256} << 10;

template <typename T>
hid_t native_type();
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}
template <>
hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

// File image callbacks of an in-memory file (Mode::create_in_memory): its one buffer is the
// ImagePages behind `udata`, grown without copies where the default realloc copied the whole
// image at every 1 MiB step. The property list copies share it.
void* image_malloc(std::size_t size, H5FD_file_image_op_t /*op*/, void* udata) {
  auto* pages = static_cast<ImagePages*>(udata);
  if (pages->data() != nullptr) return nullptr;
  return pages->resize(size) ? pages->data() : nullptr;
}
void* image_realloc(void* ptr, std::size_t size, H5FD_file_image_op_t /*op*/, void* udata) {
  auto* pages = static_cast<ImagePages*>(udata);
  if (ptr != pages->data()) return nullptr;
  return pages->resize(size) ? pages->data() : nullptr;
}
herr_t image_free(void* ptr, H5FD_file_image_op_t /*op*/, void* udata) {
  auto* pages = static_cast<ImagePages*>(udata);
  if (ptr != nullptr && ptr == pages->data()) pages->release();
  return 0;
}
void* image_memcpy(void* dest, const void* src, std::size_t size, H5FD_file_image_op_t /*op*/, void* /*udata*/) {
  return std::memcpy(dest, src, size);
}
void* udata_copy(void* udata) { return udata; }
herr_t udata_free(void* /*udata*/) { return 0; }

H5Handle variable_string_type() {
  H5Handle t(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(t.id(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

}  // namespace

H5File::H5File(const std::filesystem::path& path, Mode mode) : path_(path) {
  SilenceHdf5 quiet;
  const std::string p = path.string();
  hid_t id = -1;
  switch (mode) {
    case Mode::read:
      id = H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      break;
    case Mode::read_write:
      id = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      break;
    case Mode::create:
      id = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
      break;
    case Mode::create_in_memory:
      id = create_in(std::make_unique<ImagePages>());
      break;
  }
  if (id < 0) {
    throw StoreError(p + ": cannot " + (mode == Mode::create ? "create" : "open") + " HDF5 file (" +
                     h5detail::error_stack_text() + ")");
  }
  file_ = H5Handle(id);
}

H5File::H5File(const std::filesystem::path& path, int image_file) : path_(path) {
  SilenceHdf5 quiet;
  const hid_t id = create_in(std::make_unique<ImagePages>(ImagePages::of_file(image_file)));
  if (id < 0) throw StoreError(path.string() + ": cannot create HDF5 file (" + h5detail::error_stack_text() + ")");
  file_ = H5Handle(id);
}

hid_t H5File::create_in(std::unique_ptr<ImagePages> memory) {
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return fapl;
  const H5Handle owned(fapl);
  memory_ = std::move(memory);
  H5FD_file_image_callbacks_t callbacks{image_malloc, image_memcpy, image_realloc, image_free,
                                        udata_copy,   udata_free,   memory_.get()};
  // The image grows by 1 MiB at a time (the memory under it by doubling): the core driver
  // zeroes each increment as it takes it, so a larger one costs a store of a few hundred
  // kilobytes (the one written before the pass) that many bytes zeroed. Closing the file
  // closes whatever is still open in it, so the memory is never released under it.
  if (H5Pset_fapl_core(fapl, 1u << 20, 0) < 0 || H5Pset_file_image_callbacks(fapl, &callbacks) < 0 ||
      H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
    return -1;
  }
  return H5Fcreate(path_.string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
}

void H5File::ensure_group(const std::string& group_path) {
  SilenceHdf5 quiet;
  std::string current;
  std::size_t pos = 0;
  while (pos < group_path.size()) {
    auto next = group_path.find('/', pos + 1);
    if (next == std::string::npos) next = group_path.size();
    current = group_path.substr(0, next);
    pos = next;
    if (current == "/" || current.empty()) continue;
    if (H5Lexists(file_.id(), current.c_str(), H5P_DEFAULT) > 0) continue;
    H5Handle g(check_id(H5Gcreate2(file_.id(), current.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        path_.string() + ": create group " + current));
  }
}

bool H5File::exists(const std::string& path) const {
  SilenceHdf5 quiet;
  if (path == "/") return true;
  // Every prefix must exist for H5Lexists to answer without error; an external link on the way
  // is refused before anything follows it.
  std::size_t pos = 0;
  while (pos < path.size()) {
    auto next = path.find('/', pos + 1);
    if (next == std::string::npos) next = path.size();
    const std::string prefix = path.substr(0, next);
    pos = next;
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(file_.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    H5L_info_t info{};
    check(H5Lget_info(file_.id(), prefix.c_str(), &info, H5P_DEFAULT), path_.string() + ": link " + prefix);
    if (info.type != H5L_TYPE_HARD && info.type != H5L_TYPE_SOFT) {
      throw StoreError(path_.string() + ": " + prefix +
                       " is an external or user-defined link (refused: a store must be self-contained)");
    }
  }
  return true;
}

void H5File::require_local(const std::string& path) const {
  if (!exists(path)) throw StoreError(path_.string() + ": no " + path);
}

std::uint64_t H5File::file_size() const {
  hsize_t size = 0;
  check(H5Fget_filesize(file_.id(), &size), path_.string() + ": file size");
  return size;
}

H5Handle H5File::open_dataset_for_read(const std::string& path, std::size_t elem_size,
                                       std::vector<hsize_t>& dims) const {
  require_local(path);
  H5Handle dset(check_id(H5Dopen2(file_.id(), path.c_str(), H5P_DEFAULT), path_.string() + ": open dataset " + path));
  {
    H5Handle dcpl(check_id(H5Dget_create_plist(dset.id()), path_.string() + ": dataset properties " + path));
    const int external = H5Pget_external_count(dcpl.id());
    const H5D_layout_t layout = H5Pget_layout(dcpl.id());
    if (external != 0 || layout == H5D_VIRTUAL || layout < 0) {
      throw StoreError(path_.string() + ": " + path +
                       " keeps its data outside the file (external or virtual dataset: refused)");
    }
  }
  H5Handle space(check_id(H5Dget_space(dset.id()), "H5Dget_space"));
  const int rank = H5Sget_simple_extent_ndims(space.id());
  check(rank, path_.string() + ": dataset rank " + path);
  dims.assign(static_cast<std::size_t>(rank), 0);
  if (rank > 0) check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), path_.string() + ": dims " + path);
  std::uint64_t bytes = elem_size;
  for (auto d : dims) {
    if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes)) bytes = UINT64_MAX;
  }
  // Nothing this project writes is compressed, so a dataset can never decode to more than the
  // file holds: a larger declared extent is a damaged or hostile file, refused before allocating.
  constexpr std::uint64_t kSlack = 1 << 20;
  const auto limit = file_size() + kSlack;
  if (bytes > limit) {
    throw StoreError(path_.string() + ": " + path + " declares " +
                     (bytes == UINT64_MAX ? std::string("more than 2^64") : std::to_string(bytes)) +
                     " bytes, more than the file holds (" + std::to_string(limit - kSlack) + " bytes)");
  }
  return dset;
}

std::vector<std::string> H5File::children(const std::string& group_path) const {
  SilenceHdf5 quiet;
  require_local(group_path);
  H5Handle g(
      check_id(H5Gopen2(file_.id(), group_path.c_str(), H5P_DEFAULT), path_.string() + ": open group " + group_path));
  // One pass over the links: H5Lget_name_by_idx walks the group's index from the start for every
  // i, which made reading a store with 150,000 /values groups take minutes.
  std::vector<std::string> names;
  const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  check(H5Literate(g.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
        path_.string() + ": link names in " + group_path);
  std::sort(names.begin(), names.end());
  return names;
}

void H5File::remove(const std::string& path) {
  SilenceHdf5 quiet;
  if (!exists(path)) return;
  check(H5Ldelete(file_.id(), path.c_str(), H5P_DEFAULT), path_.string() + ": delete " + path);
}

H5Handle H5File::create_dataset(const std::string& path, hid_t type, const std::vector<hsize_t>& dims) {
  ensure_group(parent_of(path));
  remove(path);
  H5Handle space(check_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"));
  return H5Handle(
      check_id(H5Dcreate2(file_.id(), path.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               path_.string() + ": create dataset " + path));
}

void H5File::write_raw(const std::string& path, hid_t mem_type, const void* data,
                       const std::vector<std::uint64_t>& dims, std::size_t elem_count) {
  SilenceHdf5 quiet;
  std::size_t expected = 1;
  for (auto d : dims) expected *= d;
  if (expected != elem_count) {
    throw InternalError("H5File::write " + path + ": data size does not match dims");
  }
  const auto dset = create_dataset(path, mem_type, {dims.begin(), dims.end()});
  if (elem_count > 0) {
    check(H5Dwrite(dset.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
          path_.string() + ": write dataset " + path);
  }
}

void H5File::read_raw(const std::string& path, hid_t mem_type, std::size_t elem_size, std::vector<std::byte>& out,
                      std::vector<std::uint64_t>& dims) const {
  SilenceHdf5 quiet;
  std::vector<hsize_t> hdims;
  auto dset = open_dataset_for_read(path, elem_size, hdims);
  dims.assign(hdims.begin(), hdims.end());
  std::size_t n = 1;
  for (auto d : hdims) n *= static_cast<std::size_t>(d);
  out.resize(n * elem_size);
  if (n > 0) {
    check(H5Dread(dset.id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
          path_.string() + ": read dataset " + path);
  }
}

template <typename T>
void H5File::write(const std::string& path, std::span<const T> data, const std::vector<std::uint64_t>& dims) {
  write_raw(path, native_type<T>(), data.data(), dims, data.size());
}

H5Handle H5File::select_rows(const H5Handle& space, const std::vector<hsize_t>& dims, std::uint64_t first,
                             std::uint64_t rows, const std::string& path) const {
  std::vector<hsize_t> start(dims.size(), 0), count(dims);
  start[0] = first;
  count[0] = rows;
  check(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
        path_.string() + ": select rows of " + path);
  return H5Handle(
      check_id(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), "H5Screate_simple"));
}

template <typename T>
void H5File::write_by_rows(const std::string& path, const std::vector<std::uint64_t>& dims, std::uint64_t rows_per_part,
                           const std::function<void(std::uint64_t first_row, std::span<T> part)>& fill) {
  if (dims.empty() || rows_per_part == 0) {
    throw InternalError("H5File::write_by_rows " + path + ": needs a first dimension and rows per part");
  }
  SilenceHdf5 quiet;
  std::uint64_t row_elements = 1;
  for (std::size_t d = 1; d < dims.size(); ++d) row_elements *= dims[d];
  const std::vector<hsize_t> hdims(dims.begin(), dims.end());
  const auto dset = create_dataset(path, native_type<T>(), hdims);
  if (row_elements == 0) return;
  H5Handle space(check_id(H5Dget_space(dset.id()), path_.string() + ": dataspace of " + path));
  std::vector<T> part;
  for (std::uint64_t first = 0; first < dims[0]; first += rows_per_part) {
    const auto rows = std::min<std::uint64_t>(rows_per_part, dims[0] - first);
    part.assign(rows * row_elements, T{});
    fill(first, std::span<T>(part));
    const auto memory = select_rows(space, hdims, first, rows, path);
    check(H5Dwrite(dset.id(), native_type<T>(), memory.id(), space.id(), H5P_DEFAULT, part.data()),
          path_.string() + ": write dataset " + path);
  }
}

template <typename T>
std::vector<T> H5File::read(const std::string& path, std::vector<std::uint64_t>* dims) const {
  std::vector<std::byte> raw;
  std::vector<std::uint64_t> d;
  read_raw(path, native_type<T>(), sizeof(T), raw, d);
  std::vector<T> out(raw.size() / sizeof(T));
  if (!raw.empty()) std::memcpy(out.data(), raw.data(), raw.size());
  if (dims) *dims = std::move(d);
  return out;
}

std::vector<std::uint64_t> H5File::shape(const std::string& path, std::size_t element_bytes) const {
  SilenceHdf5 quiet;
  std::vector<hsize_t> hdims;
  (void)open_dataset_for_read(path, element_bytes, hdims);
  return {hdims.begin(), hdims.end()};
}

template <typename T>
void H5File::read_by_rows(const std::string& path,
                          const std::function<void(std::uint64_t first_row, std::span<const T> part)>& take) const {
  SilenceHdf5 quiet;
  std::vector<hsize_t> hdims;
  const auto dset = open_dataset_for_read(path, sizeof(T), hdims);
  if (hdims.empty()) throw StoreError(path_.string() + ": " + path + " is a scalar, not rows");
  std::uint64_t row_elements = 1;
  for (std::size_t d = 1; d < hdims.size(); ++d) row_elements *= hdims[d];
  if (row_elements == 0 || hdims[0] == 0) return;
  constexpr std::uint64_t kPartBytes = std::uint64_t{1} << 20;
  const auto rows_per_part = std::max<std::uint64_t>(1, kPartBytes / (row_elements * sizeof(T)));
  H5Handle space(check_id(H5Dget_space(dset.id()), path_.string() + ": dataspace of " + path));
  std::vector<T> part;
  for (std::uint64_t first = 0; first < hdims[0]; first += rows_per_part) {
    const auto rows = std::min<std::uint64_t>(rows_per_part, hdims[0] - first);
    part.resize(rows * row_elements);
    const auto memory = select_rows(space, hdims, first, rows, path);
    check(H5Dread(dset.id(), native_type<T>(), memory.id(), space.id(), H5P_DEFAULT, part.data()),
          path_.string() + ": read dataset " + path);
    take(first, std::span<const T>(part));
  }
}

#define LINEAGE_H5_INSTANTIATE(T)                                                                              \
  template void H5File::write<T>(const std::string&, std::span<const T>, const std::vector<std::uint64_t>&);   \
  template std::vector<T> H5File::read<T>(const std::string&, std::vector<std::uint64_t>*) const;              \
  template void H5File::read_by_rows<T>(const std::string&,                                                    \
                                        const std::function<void(std::uint64_t, std::span<const T>)>&) const;  \
  template void H5File::write_by_rows<T>(const std::string&, const std::vector<std::uint64_t>&, std::uint64_t, \
                                         const std::function<void(std::uint64_t, std::span<T>)>&);
LINEAGE_H5_INSTANTIATE(double)
LINEAGE_H5_INSTANTIATE(float)
LINEAGE_H5_INSTANTIATE(std::int64_t)
LINEAGE_H5_INSTANTIATE(std::uint64_t)
LINEAGE_H5_INSTANTIATE(std::int32_t)
LINEAGE_H5_INSTANTIATE(std::uint8_t)
#undef LINEAGE_H5_INSTANTIATE

void H5File::write_strings(const std::string& path, const std::vector<std::string>& values) {
  write_string_pointer_rows(path, values.size(), std::max<std::uint64_t>(values.size(), 1),
                            [&](std::uint64_t first, std::uint64_t rows, std::vector<const char*>& ptrs) {
                              for (std::uint64_t i = first; i < first + rows; ++i) ptrs.push_back(values[i].c_str());
                            });
}

void H5File::write_strings_by_rows(
    const std::string& path, std::uint64_t count, std::uint64_t rows_per_part,
    const std::function<void(std::uint64_t first_row, std::uint64_t rows, std::vector<std::string>& part)>& fill) {
  std::vector<std::string> part;
  write_string_pointer_rows(path, count, rows_per_part,
                            [&](std::uint64_t first, std::uint64_t rows, std::vector<const char*>& ptrs) {
                              part.clear();
                              fill(first, rows, part);
                              for (const auto& s : part) ptrs.push_back(s.c_str());
                            });
}

void H5File::write_string_pointer_rows(
    const std::string& path, std::uint64_t count, std::uint64_t rows_per_part,
    const std::function<void(std::uint64_t first_row, std::uint64_t rows, std::vector<const char*>& ptrs)>& fill) {
  if (rows_per_part == 0) throw InternalError("H5File: strings " + path + " need rows per part");
  SilenceHdf5 quiet;
  auto type = variable_string_type();
  const std::vector<hsize_t> dims{count};
  const auto dset = create_dataset(path, type.id(), dims);
  if (count == 0) return;
  H5Handle space(check_id(H5Dget_space(dset.id()), path_.string() + ": dataspace of " + path));
  // HDF5 converts variable-length strings through a conversion buffer and a background buffer,
  // 1 MiB each unless told, allocated and zeroed for every H5Dwrite. After the pass, blocks of
  // 1 MiB are mappings of their own (core/heap_tuning.hpp), so each write faulted in 512 fresh
  // pages: a fifth of a screening run's page faults, all on rank 0 (docs/benchmarks.md).
  // Buffers of 256 KiB come from the heap and are reused; the file is the same.
  const H5Handle transfer(check_id(H5Pcreate(H5P_DATASET_XFER), path_.string() + ": transfer list for " + path));
  check(H5Pset_buffer(transfer.id(), kStringConversionBufferBytes, nullptr, nullptr),
        path_.string() + ": conversion buffer for " + path);
  std::vector<const char*> ptrs;
  ptrs.reserve(std::min(rows_per_part, count));
  for (std::uint64_t first = 0; first < count; first += rows_per_part) {
    const auto rows = std::min<std::uint64_t>(rows_per_part, count - first);
    ptrs.clear();
    fill(first, rows, ptrs);
    // H5Dwrite reads `rows` pointers whatever the vector holds: fewer would read past its end.
    if (ptrs.size() != rows) {
      throw InternalError("H5File: strings " + path + ": " + std::to_string(ptrs.size()) + " given for rows " +
                          std::to_string(first) + ".." + std::to_string(first + rows) + " (" + std::to_string(rows) +
                          " rows)");
    }
    const auto memory = select_rows(space, dims, first, rows, path);
    check(H5Dwrite(dset.id(), type.id(), memory.id(), space.id(), transfer.id(), ptrs.data()),
          path_.string() + ": write strings " + path);
  }
}

void H5File::write_string(const std::string& path, std::string_view value) {
  SilenceHdf5 quiet;
  // One fixed-length element of the text's size, written from where the text lies: a
  // variable-length string would be copied whole into HDF5's global heap first (tens of megabytes
  // for a deep MoE pair's verdict, at the run's peak). A fixed-length type holds at most 2^32 - 1
  // bytes (the file format's size field).
  if (value.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw StoreError(path_.string() + ": " + path + ": a text of " + std::to_string(value.size()) +
                     " bytes is longer than an HDF5 string can be");
  }
  H5Handle type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(type.id(), std::max<std::size_t>(value.size(), 1)), "H5Tset_size");
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset");
  check(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), "H5Tset_strpad");
  const auto dset = create_dataset(path, type.id(), {1});
  const char empty = 0;
  check(H5Dwrite(dset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.empty() ? &empty : value.data()),
        path_.string() + ": write string " + path);
}

std::vector<std::string> H5File::read_strings(const std::string& path) const {
  SilenceHdf5 quiet;
  std::vector<hsize_t> dims;
  std::size_t fixed_size = 0;  // 0: variable-length strings
  H5T_str_t padding = H5T_STR_NULLTERM;
  {
    auto dset = open_dataset_for_read(path, 1, dims);
    H5Handle ftype(check_id(H5Dget_type(dset.id()), path_.string() + ": type of " + path));
    if (H5Tget_class(ftype.id()) != H5T_STRING)
      throw StoreError(path_.string() + ": " + path + " does not hold strings");
    const htri_t variable = H5Tis_variable_str(ftype.id());
    check(variable, path_.string() + ": type of " + path);
    if (variable == 0) {
      fixed_size = H5Tget_size(ftype.id());
      padding = H5Tget_strpad(ftype.id());
      if (fixed_size == 0) throw StoreError(path_.string() + ": " + path + " holds strings of no size");
    }
  }
  // Each element read becomes a std::string: at least 16 bytes an element either way, so a small
  // file cannot declare many millions of one-byte strings.
  auto dset = open_dataset_for_read(path, std::max<std::size_t>(fixed_size, 16), dims);
  if (dims.size() != 1) throw StoreError(path_.string() + ": " + path + " is not a list of strings");
  const auto n = static_cast<std::size_t>(dims[0]);
  if (fixed_size > 0) return read_fixed_strings(dset.id(), path, n, fixed_size, padding);
  auto type = variable_string_type();
  // Read in batches and bound the total: many references may point at one long string.
  const std::uint64_t max_total = std::max<std::uint64_t>(std::uint64_t{64} << 20, 4 * file_size());
  std::uint64_t total = 0;
  std::vector<std::string> out;
  out.reserve(n);
  H5Handle fspace(check_id(H5Dget_space(dset.id()), "H5Dget_space"));
  constexpr hsize_t kBatch = 4096;
  std::vector<char*> ptrs(static_cast<std::size_t>(std::min<hsize_t>(kBatch, n)), nullptr);
  for (hsize_t start = 0; start < n; start += kBatch) {
    const hsize_t count = std::min<hsize_t>(kBatch, n - start);
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), "H5Sselect_hyperslab");
    H5Handle mspace(check_id(H5Screate_simple(1, &count, nullptr), "H5Screate_simple"));
    std::fill(ptrs.begin(), ptrs.end(), nullptr);
    check(H5Dread(dset.id(), type.id(), mspace.id(), fspace.id(), H5P_DEFAULT, ptrs.data()),
          path_.string() + ": read strings " + path);
    for (hsize_t i = 0; i < count; ++i) {
      const char* p = ptrs[static_cast<std::size_t>(i)];
      const std::size_t len = p ? std::strlen(p) : 0;
      total += len;
      if (total <= max_total) out.emplace_back(p ? p : "", len);
    }
    H5Dvlen_reclaim(type.id(), mspace.id(), H5P_DEFAULT, ptrs.data());
    if (total > max_total) {
      throw StoreError(path_.string() + ": " + path + " holds more than " + std::to_string(max_total) +
                       " bytes of strings (refused: a damaged or hostile store)");
    }
  }
  return out;
}

std::vector<std::string> H5File::read_fixed_strings(hid_t dset, const std::string& path, std::size_t count,
                                                    std::size_t size, int padding) const {
  // The whole dataset is `count * size` bytes, bounded by the file's size (open_dataset_for_read).
  // Read in the file's own type: no conversion.
  H5Handle type(check_id(H5Dget_type(dset), path_.string() + ": type of " + path));
  std::string bytes(count * size, '\0');
  if (count > 0) {
    check(H5Dread(dset, type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()),
          path_.string() + ": read strings " + path);
  }
  const auto text_of = [&](std::size_t i) {
    std::string_view s(bytes.data() + i * size, size);
    // NUL-padded or NUL-terminated: the text ends at its first NUL, as a variable-length one does.
    s = s.substr(0, std::min(s.find('\0'), s.size()));
    if (padding == H5T_STR_SPACEPAD) s = s.substr(0, s.find_last_not_of(' ') + 1);
    return s;
  };
  std::vector<std::string> out;
  if (count == 1) {
    // One text (write_string): the buffer becomes it, no second copy.
    bytes.resize(text_of(0).size());
    out.push_back(std::move(bytes));
    return out;
  }
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.emplace_back(text_of(i));
  return out;
}

H5Handle H5File::open_object(const std::string& object_path) const {
  require_local(object_path);
  return H5Handle(
      check_id(H5Oopen(file_.id(), object_path.c_str(), H5P_DEFAULT), path_.string() + ": open object " + object_path));
}

void H5File::set_attribute_raw(const std::string& object_path, const std::string& name, hid_t type, const void* value) {
  SilenceHdf5 quiet;
  auto obj = open_object(object_path);
  if (H5Aexists(obj.id(), name.c_str()) > 0) {
    check(H5Adelete(obj.id(), name.c_str()), "H5Adelete " + name);
  }
  H5Handle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  H5Handle attr(check_id(H5Acreate2(obj.id(), name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                         path_.string() + ": create attribute " + object_path + "@" + name));
  check(H5Awrite(attr.id(), type, value), path_.string() + ": write attribute " + object_path + "@" + name);
}

bool H5File::read_attribute_raw(const std::string& object_path, const std::string& name, hid_t type,
                                void* value) const {
  SilenceHdf5 quiet;
  if (!exists(object_path)) return false;
  auto obj = open_object(object_path);
  if (H5Aexists(obj.id(), name.c_str()) <= 0) return false;
  H5Handle attr(check_id(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT), "H5Aopen " + name));
  {
    // `value` holds one element: an attribute of another shape would be read past it.
    H5Handle space(check_id(H5Aget_space(attr.id()), "H5Aget_space " + name));
    if (H5Sget_simple_extent_npoints(space.id()) != 1) {
      throw StoreError(path_.string() + ": attribute " + object_path + "@" + name + " is not a single value");
    }
  }
  check(H5Aread(attr.id(), type, value), path_.string() + ": read attribute " + object_path + "@" + name);
  return true;
}

void H5File::set_attribute(const std::string& object_path, const std::string& name, const std::string& value) {
  auto type = variable_string_type();
  const char* p = value.c_str();
  set_attribute_raw(object_path, name, type.id(), &p);
}

void H5File::set_attribute(const std::string& object_path, const std::string& name, std::int64_t value) {
  set_attribute_raw(object_path, name, H5T_NATIVE_INT64, &value);
}

void H5File::set_attribute(const std::string& object_path, const std::string& name, double value) {
  set_attribute_raw(object_path, name, H5T_NATIVE_DOUBLE, &value);
}

std::optional<std::string> H5File::string_attribute(const std::string& object_path, const std::string& name) const {
  auto type = variable_string_type();
  char* p = nullptr;
  if (!read_attribute_raw(object_path, name, type.id(), &p)) return std::nullopt;
  std::string out = p ? p : "";
  H5free_memory(p);
  return out;
}

std::optional<std::int64_t> H5File::int_attribute(const std::string& object_path, const std::string& name) const {
  std::int64_t v = 0;
  if (!read_attribute_raw(object_path, name, H5T_NATIVE_INT64, &v)) return std::nullopt;
  return v;
}

std::optional<double> H5File::double_attribute(const std::string& object_path, const std::string& name) const {
  double v = 0;
  if (!read_attribute_raw(object_path, name, H5T_NATIVE_DOUBLE, &v)) return std::nullopt;
  return v;
}

void H5File::flush() { check(H5Fflush(file_.id(), H5F_SCOPE_GLOBAL), path_.string() + ": flush"); }

std::array<std::span<const std::byte>, 2> H5File::image_parts() {
  if (memory_ == nullptr) throw InternalError(path_.string() + ": only a file held in memory has its image at hand");
  flush();
  SilenceHdf5 quiet;
  // The end of the space HDF5 allocated; a flush leaves the core driver's memory at least that long.
  const auto size = H5Fget_file_image(file_.id(), nullptr, 0);
  if (size <= 0) check(-1, path_.string() + ": file image size");
  H5F_info2_t info{};
  check(H5Fget_info2(file_.id(), &info), path_.string() + ": file info");
  const std::size_t head = image_head_.size();
  if (info.super.version >= 2 || static_cast<std::size_t>(size) < head ||
      static_cast<std::size_t>(size) > memory_->size()) {
    throw InternalError(path_.string() + ": no image of an in-memory file with superblock version " +
                        std::to_string(info.super.version) + ", " + std::to_string(size) + " bytes allocated and " +
                        std::to_string(memory_->size()) + " held");
  }
  // A version 0 or 1 superblock: the signature (8 bytes), 12 of versions, sizes and node ranks,
  // then 4 of status flags, which the image has cleared.
  constexpr std::size_t status_flags = 20;
  std::memcpy(image_head_.data(), memory_->data(), status_flags);
  std::memset(image_head_.data() + status_flags, 0, head - status_flags);
  return {std::span<const std::byte>(image_head_),
          std::span<const std::byte>(memory_->data() + head, static_cast<std::size_t>(size) - head)};
}

std::uint64_t H5File::allocated_end() const {
  SilenceHdf5 quiet;
  haddr_t end = 0;
  check(H5Fget_eoa(file_.id(), &end), path_.string() + ": end of allocated space");
  return end;
}

int H5File::image_growth_refusal() const noexcept {
  return memory_ != nullptr ? memory_->refusal() : leaked_memory_refusal_;
}

herr_t H5File::close_file() noexcept {
  const hid_t id = file_.release();
  if (id < 0) return 0;
  const herr_t closed = H5Fclose(id);
  // A file HDF5 failed to close may still be open in it: its in-memory buffer stays mapped (and
  // why it last refused to grow, often why the close failed, stays known).
  if (closed < 0 && memory_ != nullptr) {
    leaked_memory_refusal_ = memory_->refusal();
    (void)memory_.release();
  }
  return closed;
}

void H5File::close() {
  SilenceHdf5 quiet;
  check(close_file(), path_.string() + ": close");
}

H5File::~H5File() {
  if (memory_ == nullptr) return;  // file_ closes itself
  if (close_file() < 0) std::cerr << "lineage: warning: failed to close an HDF5 object\n";
}

}  // namespace lineage::io
