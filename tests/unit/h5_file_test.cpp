#include "io/hdf5/h5_file.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "support/temp_dir.hpp"

namespace lineage::io {
namespace {

TEST(H5File, DatasetsOfEveryTypeRoundTripRowMajor) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "t.h5";
  {
    H5File f(path, H5File::Mode::create);
    const std::vector<double> m{1, 2, 3, 4, 5, 6};  // 2x3, row-major
    f.write<double>("/a/b/matrix", m, {2, 3});
    const std::vector<std::uint64_t> u{1ull << 60, 7};
    f.write<std::uint64_t>("/a/counts", u, {2});
    const std::vector<std::int32_t> i{-1, 0, 1};
    f.write<std::int32_t>("/ints", i, {3});
    const std::vector<std::uint8_t> bytes{0, 255};
    f.write<std::uint8_t>("/bytes", bytes, {2});
    f.write<float>("/empty", std::span<const float>(), {0});
  }
  H5File f(path, H5File::Mode::read);
  std::vector<std::uint64_t> dims;
  EXPECT_EQ(f.read<double>("/a/b/matrix", &dims), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dims, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(f.read<std::uint64_t>("/a/counts")[0], 1ull << 60);
  EXPECT_EQ(f.read<std::int32_t>("/ints")[0], -1);
  EXPECT_EQ(f.read<std::uint8_t>("/bytes")[1], 255);
  EXPECT_TRUE(f.read<float>("/empty").empty());
  EXPECT_EQ(f.children("/a"), (std::vector<std::string>{"b", "counts"}));
  EXPECT_TRUE(f.exists("/a/b/matrix"));
  EXPECT_FALSE(f.exists("/a/zzz/matrix"));
}

TEST(H5File, ADatasetWrittenByRowsIsTheDatasetWrittenWhole) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "t.h5";
  std::vector<double> whole(std::size_t{7} * 2 * 3);  // [7, 2, 3], row-major
  for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = 0.5 * static_cast<double>(i);
  std::vector<std::pair<std::uint64_t, std::size_t>> parts;
  {
    H5File f(path, H5File::Mode::create);
    f.write_by_rows<double>("/by/rows", {7, 2, 3}, 3, [&](std::uint64_t first, std::span<double> part) {
      parts.emplace_back(first, part.size());
      std::copy_n(whole.begin() + static_cast<std::ptrdiff_t>(first * 6), part.size(), part.begin());
    });
    f.write<double>("/whole", std::span<const double>(whole), {7, 2, 3});
    f.write_by_rows<std::uint64_t>("/no/rows", {0}, 4,
                                   [](std::uint64_t, std::span<std::uint64_t>) { FAIL() << "no part to fill"; });
    f.write_by_rows<float>("/empty/rows", {4, 0}, 4, [](std::uint64_t, std::span<float>) { FAIL() << "empty rows"; });
    EXPECT_THROW(f.write_by_rows<float>("/bad", {4}, 0, [](std::uint64_t, std::span<float>) {}), InternalError);
    EXPECT_THROW(f.write_by_rows<float>("/bad", {}, 1, [](std::uint64_t, std::span<float>) {}), InternalError);
  }
  EXPECT_EQ(parts, (std::vector<std::pair<std::uint64_t, std::size_t>>{{0, 18}, {3, 18}, {6, 6}}));
  H5File f(path, H5File::Mode::read);
  std::vector<std::uint64_t> dims;
  EXPECT_EQ(f.read<double>("/by/rows", &dims), whole);
  EXPECT_EQ(dims, (std::vector<std::uint64_t>{7, 2, 3}));
  EXPECT_EQ(f.read<double>("/by/rows"), f.read<double>("/whole"));
  EXPECT_TRUE(f.read<std::uint64_t>("/no/rows", &dims).empty());
  EXPECT_EQ(dims, (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(f.read<float>("/empty/rows", &dims).empty());
  EXPECT_EQ(dims, (std::vector<std::uint64_t>{4, 0}));
}

TEST(H5File, ADatasetReadByRowsIsTheDatasetReadWholeInPartsOfWholeRows) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "r.h5";
  // 300,000 rows of 3 doubles (7.2 MB): several parts of about a megabyte, each of whole rows.
  constexpr std::uint64_t kRows = 300'000;
  std::vector<double> whole(kRows * 3);
  for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = 0.25 * static_cast<double>(i);
  {
    H5File f(path, H5File::Mode::create);
    f.write<double>("/table", std::span<const double>(whole), {kRows, 3});
    f.write<float>("/empty", std::span<const float>(), {0, 5});
    f.write<float>("/scalar", std::span<const float>(std::array<float, 1>{1.0f}), {});
  }
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.shape("/table"), (std::vector<std::uint64_t>{kRows, 3}));
  std::vector<double> read;
  std::uint64_t next_row = 0, parts = 0;
  f.read_by_rows<double>("/table", [&](std::uint64_t first, std::span<const double> part) {
    EXPECT_EQ(first, next_row);
    ASSERT_EQ(part.size() % 3, 0u);
    EXPECT_LE(part.size() * sizeof(double), std::size_t{1} << 20);
    next_row += part.size() / 3;
    ++parts;
    read.insert(read.end(), part.begin(), part.end());
  });
  EXPECT_EQ(read, whole);
  EXPECT_GT(parts, 5u);
  f.read_by_rows<float>("/empty", [](std::uint64_t, std::span<const float>) { FAIL() << "no rows to take"; });
  EXPECT_THROW(f.read_by_rows<float>("/scalar", [](std::uint64_t, std::span<const float>) {}), StoreError);
  EXPECT_THROW((void)f.shape("/missing"), StoreError);
}

TEST(H5File, StringsAttributesAndReplacement) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "s.h5";
  {
    H5File f(path, H5File::Mode::create);
    f.write_strings("/names", {"model.layers.0.mlp.gate.weight", "", "ünïcode"});
    f.write_string("/doc/json", std::string(3 << 20, 'j'));  // one long string, as a verdict's JSON
    f.write_string("/doc/empty", "");
    f.write_strings("/no_names", {});
    f.set_attribute("/", "schema_version", std::int64_t{3});
    f.set_attribute("/", "tool", std::string("lineage"));
    f.set_attribute("/names", "scale", 0.5);
    const std::vector<double> first{1, 2};
    f.write<double>("/x", first, {2});
    const std::vector<double> second{9};
    f.write<double>("/x", second, {1});  // replaces
  }
  H5File f(path, H5File::Mode::read_write);
  EXPECT_EQ(f.read_strings("/names"), (std::vector<std::string>{"model.layers.0.mlp.gate.weight", "", "ünïcode"}));
  EXPECT_EQ(f.read_strings("/doc/json"), std::vector<std::string>{std::string(3 << 20, 'j')});
  EXPECT_EQ(f.read_strings("/doc/empty"), std::vector<std::string>{""});
  EXPECT_TRUE(f.read_strings("/no_names").empty());
  EXPECT_EQ(f.shape("/no_names"), std::vector<std::uint64_t>{0});
  EXPECT_EQ(f.int_attribute("/", "schema_version"), 3);
  EXPECT_EQ(f.string_attribute("/", "tool"), "lineage");
  EXPECT_EQ(f.double_attribute("/names", "scale"), 0.5);
  EXPECT_FALSE(f.int_attribute("/", "missing").has_value());
  EXPECT_EQ(f.read<double>("/x"), std::vector<double>{9});
  f.remove("/x");
  EXPECT_FALSE(f.exists("/x"));
}

/// The string type of dataset `path` in the file at `file` (read with the C API): whether it is
/// variable-length, else its size in bytes and padding.
struct StringType {
  bool variable = false;
  std::size_t size = 0;
  H5T_str_t padding = H5T_STR_ERROR;
};
StringType string_type(const std::filesystem::path& file, const char* path) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  const hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
  EXPECT_GE(d, 0) << path;
  const hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_STRING) << path;
  const htri_t variable = H5Tis_variable_str(t);
  EXPECT_GE(variable, 0) << path;
  StringType out{variable > 0, H5Tget_size(t), H5Tget_strpad(t)};
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
  return out;
}

/// Writes `count` fixed-length strings of `size` bytes from `bytes` at `path`, padded by `pad`, as
/// h5py or another writer may (without H5File).
void write_fixed_strings(const std::filesystem::path& file, const char* path, const std::string& bytes,
                         std::size_t size, H5T_str_t pad) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, size);
  H5Tset_strpad(t, pad);
  const hsize_t n = bytes.size() / size;
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t d = H5Dcreate2(f, path, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (!bytes.empty()) H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
  H5Dclose(d);
  H5Sclose(space);
  H5Tclose(t);
  H5Fclose(f);
}

TEST(H5File, OneTextIsWrittenAsOneFixedLengthStringAndListsOfEitherKindRead) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "s.h5";
  const std::string json = "{\"pairs\":[" + std::string(1 << 20, ' ') + "]}";
  {
    H5File f(path, H5File::Mode::create);
    f.write_string("/doc/json", json);
    f.write_string("/doc/empty", "");
    f.write_strings("/names", {"a", "bc"});
  }
  // A text is not copied into HDF5's global heap: it is one fixed-length string of its size.
  const auto text = string_type(path, "/doc/json");
  EXPECT_FALSE(text.variable);
  EXPECT_EQ(text.size, json.size());
  EXPECT_EQ(text.padding, H5T_STR_NULLPAD);
  const auto empty = string_type(path, "/doc/empty");
  EXPECT_FALSE(empty.variable);
  EXPECT_EQ(empty.size, 1u);
  EXPECT_TRUE(string_type(path, "/names").variable);
  write_fixed_strings(path, "/null_padded", std::string("ab\0\0\0cdef\0ghijk", 15), 5, H5T_STR_NULLPAD);
  write_fixed_strings(path, "/null_terminated", std::string("xy\0\0", 4), 4, H5T_STR_NULLTERM);
  write_fixed_strings(path, "/space_padded", "ab   c    ", 5, H5T_STR_SPACEPAD);
  write_fixed_strings(path, "/none", "", 3, H5T_STR_NULLPAD);
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.read_strings("/doc/json"), std::vector<std::string>{json});
  EXPECT_EQ(f.read_strings("/doc/empty"), std::vector<std::string>{""});
  EXPECT_EQ(f.read_strings("/names"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(f.read_strings("/null_padded"), (std::vector<std::string>{"ab", "cdef", "ghijk"}));
  EXPECT_EQ(f.read_strings("/null_terminated"), std::vector<std::string>{"xy"});
  EXPECT_EQ(f.read_strings("/space_padded"), (std::vector<std::string>{"ab", "c"}));
  EXPECT_TRUE(f.read_strings("/none").empty());
}

TEST(H5File, StringsWrittenInPartsReadBackWhole) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "s.h5";
  std::vector<std::string> want;
  for (int i = 0; i < 1000; ++i) want.push_back(i % 7 == 0 ? std::string() : "unit " + std::to_string(i));
  {
    H5File f(path, H5File::Mode::create);
    std::vector<std::uint64_t> firsts;
    f.write_strings_by_rows("/names", want.size(), 64,
                            [&](std::uint64_t first, std::uint64_t rows, std::vector<std::string>& part) {
                              EXPECT_TRUE(part.empty());
                              firsts.push_back(first);
                              part.assign(want.begin() + static_cast<std::ptrdiff_t>(first),
                                          want.begin() + static_cast<std::ptrdiff_t>(first + rows));
                            });
    EXPECT_EQ(firsts.size(), 16u);  // 15 parts of 64 rows and one of 40
    EXPECT_EQ(firsts.back(), 960u);
    f.write_strings_by_rows(
        "/none", 0, 64, [](std::uint64_t, std::uint64_t, std::vector<std::string>&) { FAIL() << "no rows to fill"; });
    EXPECT_THROW(f.write_strings_by_rows(
                     "/short", 10, 4,
                     [](std::uint64_t, std::uint64_t, std::vector<std::string>& part) { part.emplace_back("one"); }),
                 InternalError);
    // More strings than rows is as wrong as fewer: the part's rows would not be the ones given.
    EXPECT_THROW(f.write_strings_by_rows("/long", 3, 4,
                                         [](std::uint64_t, std::uint64_t rows, std::vector<std::string>& part) {
                                           part.assign(rows + 1, "x");
                                         }),
                 InternalError);
  }
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.read_strings("/names"), want);
  EXPECT_TRUE(f.read_strings("/none").empty());
}

// String writes convert through 256 KiB buffers (not HDF5's 1 MiB), which hold the rows'
// 16-byte descriptors (16,384 a pass), not their text: a write of 50,000 rows (four passes) and
// one of parts of 30,000 read back as written, long strings among them.
TEST(H5File, StringsBeyondTheConversionBufferReadBackWhole) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "s.h5";
  std::vector<std::string> want;
  want.reserve(50000);
  for (int i = 0; i < 50000; ++i) want.push_back("row " + std::to_string(i));
  want[7] = std::string(700000, 'a');
  want[49999] = std::string(300000, 'z');
  {
    H5File f(path, H5File::Mode::create);
    f.write_strings("/all", want);
    f.write_strings_by_rows("/parts", want.size(), 30000,
                            [&](std::uint64_t first, std::uint64_t rows, std::vector<std::string>& part) {
                              part.assign(want.begin() + static_cast<std::ptrdiff_t>(first),
                                          want.begin() + static_cast<std::ptrdiff_t>(first + rows));
                            });
  }
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.read_strings("/all"), want);
  EXPECT_EQ(f.read_strings("/parts"), want);
}

TEST(H5File, FixedLengthStringsLargerThanTheFileAreRefused) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "s.h5";
  { H5File f(path, H5File::Mode::create); }
  // 1000 strings of 64 MiB declared, none written: never allocated.
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::size_t{64} << 20);
  const hsize_t n = 1000;
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  H5Dclose(H5Dcreate2(f, "/huge", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(space);
  H5Tclose(t);
  H5Fclose(f);
  // 200,000 one-byte strings, none written: 200 kB of the file's bytes, but 200,000 strings in
  // memory; counted at 16 bytes an element, more than the file holds.
  const hid_t h = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t one = H5Tcopy(H5T_C_S1);
  H5Tset_size(one, 1);
  const hsize_t many = 200'000;
  const hid_t many_space = H5Screate_simple(1, &many, nullptr);
  H5Dclose(H5Dcreate2(h, "/many", one, many_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Sclose(many_space);
  H5Tclose(one);
  H5Fclose(h);
  H5File g(path, H5File::Mode::read);
  EXPECT_THROW((void)g.read_strings("/many"), StoreError);
  try {
    (void)g.read_strings("/huge");
    FAIL() << "expected a refusal";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("/huge"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("more than the file holds"), std::string::npos) << e.what();
  }
}

TEST(H5File, ErrorsNameThePathAndCarryHdf5Stack) {
  lineage::testing::TempDir dir;
  const auto bogus = dir.path() / "not-hdf5.h5";
  std::ofstream(bogus) << "this is not an HDF5 file";
  try {
    H5File f(bogus, H5File::Mode::read);
    FAIL() << "opened a non-HDF5 file";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("not-hdf5.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("H5F"), std::string::npos) << e.what();
  }
  const auto ok = dir.path() / "ok.h5";
  H5File f(ok, H5File::Mode::create);
  EXPECT_THROW((void)f.read<double>("/nope"), StoreError);
  EXPECT_THROW(H5File(dir.path() / "no-such-dir" / "x.h5", H5File::Mode::create), StoreError);
}

// 40 datasets of 512 KiB of floats, each value telling its dataset and place: a file that grows
// over many of the core driver's 1 MiB steps.
constexpr std::size_t kDatasets = 40, kPerDataset = 1u << 17;
float numbered_value(std::size_t d, std::size_t i) { return static_cast<float>(d * 1000003 + i); }

void write_numbered_datasets(H5File& f) {
  std::vector<float> v(kPerDataset);
  for (std::size_t d = 0; d < kDatasets; ++d) {
    for (std::size_t i = 0; i < kPerDataset; ++i) v[i] = numbered_value(d, i);
    f.write<float>("/values/" + std::to_string(d), v, {kPerDataset});
  }
  f.write_strings("/names", {"alpha", "beta"});
}

void expect_numbered_datasets(const H5File& f) {
  EXPECT_EQ(f.read_strings("/names"), (std::vector<std::string>{"alpha", "beta"}));
  for (std::size_t d = 0; d < kDatasets; ++d) {
    const auto v = f.read<float>("/values/" + std::to_string(d));
    ASSERT_EQ(v.size(), kPerDataset);
    for (std::size_t i = 0; i < kPerDataset; i += 997) ASSERT_EQ(v[i], numbered_value(d, i)) << d << " " << i;
    ASSERT_EQ(v.back(), numbered_value(d, kPerDataset - 1));
  }
}

// An in-memory file that grows over many of the core driver's 1 MiB steps (its memory grown by
// ImagePages, moved by the kernel): its image, written out, is a file that reads back whole,
// and it is what HDF5 gives as that file's image (the core driver's memory has the superblock's
// status flags set, which H5Fget_file_image clears).
TEST(H5File, InMemoryBytesGrownOverManyStepsAreTheFileImage) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "image.h5";
  std::vector<std::byte> written;
  {
    H5File f(dir.path() / "never-written.h5", H5File::Mode::create_in_memory);
    write_numbered_datasets(f);
    f.set_attribute("/", "schema_version", std::int64_t{3});
    for (const auto part : f.image_parts()) written.insert(written.end(), part.begin(), part.end());
    EXPECT_GT(written.size(), kDatasets * kPerDataset * sizeof(float));
    f.close();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(written.data()), static_cast<std::streamsize>(written.size()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "never-written.h5"));
  {
    // The written file's image as HDF5 makes it (read into memory by the core driver).
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    ASSERT_GE(fapl, 0);
    ASSERT_GE(H5Pset_fapl_core(fapl, 1u << 20, 0), 0);
    const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    ASSERT_GE(id, 0);
    std::vector<std::byte> image(written.size() + 1);
    const auto size = H5Fget_file_image(id, image.data(), image.size());
    H5Fclose(id);
    ASSERT_EQ(size, static_cast<ssize_t>(written.size()));
    image.resize(written.size());
    // The first byte that differs (none: the size).
    const auto differ = std::mismatch(image.begin(), image.end(), written.begin()).first - image.begin();
    EXPECT_EQ(differ, static_cast<std::ptrdiff_t>(image.size()));
  }
  const H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.int_attribute("/", "schema_version"), std::int64_t{3});
  expect_numbered_datasets(f);
}

/// The bytes of this process's mappings of `file` (/proc/self/maps names a file a mapping is of).
std::size_t mapped_bytes_of(const std::filesystem::path& file) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t bytes = 0;
  while (std::getline(maps, line)) {
    if (line.size() < file.native().size() ||
        line.compare(line.size() - file.native().size(), std::string::npos, file.native()) != 0)
      continue;
    std::size_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    range >> std::hex >> begin >> dash >> end;
    bytes += end - begin;
  }
  return bytes;
}

// An in-memory file whose memory is a mapped file: its 20 MiB of datasets are the file's pages
// (a mapping of the file, not anonymous memory), and once closed the file holds the closed HDF5 file up to its
// allocated end, past which it may run: truncated there, it reads back whole.
TEST(H5File, InAMappedFileTheBytesAreTheFilesNotAnonymousMemory) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "mapped.h5";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  {
    H5File f(dir.path() / "in-memory.h5", fd);
    write_numbered_datasets(f);
    EXPECT_GE(mapped_bytes_of(std::filesystem::canonical(path)), kDatasets * kPerDataset * sizeof(float));
    EXPECT_EQ(f.image_growth_refusal(), 0);
    f.close();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "in-memory.h5"));
  const auto end = H5File(path, H5File::Mode::read).allocated_end();
  EXPECT_GT(end, kDatasets * kPerDataset * sizeof(float));
  EXPECT_LE(end, std::filesystem::file_size(path));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(end)), 0);
  ASSERT_EQ(::close(fd), 0);
  expect_numbered_datasets(H5File(path, H5File::Mode::read));
}

// Only a file held in memory has its image at hand.
TEST(H5File, ImageOfAFileOnDiskIsAnError) {
  lineage::testing::TempDir dir;
  H5File f(dir.path() / "disk.h5", H5File::Mode::create);
  EXPECT_THROW((void)f.image_parts(), InternalError);
}

TEST(H5File, PythonH5pyReadsWhatWeWrite) {
  lineage::testing::TempDir dir;
  const auto path = dir.path() / "py.h5";
  {
    H5File f(path, H5File::Mode::create);
    const std::vector<double> m{1.5, 2.5, 3.5, 4.5, 5.5, 6.5};
    f.write<double>("/g/m", m, {2, 3});
    f.write_strings("/g/names", {"alpha", "beta"});
    f.set_attribute("/", "schema_version", std::int64_t{1});
  }
  const std::string cmd =
      std::string(LINEAGE_PYTHON) +
      " -c \"import h5py,sys; f=h5py.File(sys.argv[1],'r'); m=f['g/m'][()]; "
      "print(m.shape, m[1,0], [s.decode() if isinstance(s,bytes) else s for s in f['g/names'][()]], "
      "int(f.attrs['schema_version']))\" " +
      path.string();
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::array<char, 256> buf{};
  std::string out;
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  EXPECT_EQ(out, "(2, 3) 4.5 ['alpha', 'beta'] 1\n");
}

}  // namespace
}  // namespace lineage::io
