#include "io/safetensors_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "core/errors.hpp"
#include "io/model_folder.hpp"

namespace lineage::io {

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : header_(read_safetensors_header(path)) {
  size_ = header_.file_size;
  std::uint64_t now_size = 0;
  const int fd = open_regular_file(path, now_size);
  if (now_size < size_) {
    ::close(fd);
    throw InputError(path.string(), "file shrank to " + std::to_string(now_size) + " bytes since its header was read");
  }
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw InputError(path.string(), std::string("mmap failed: ") + std::strerror(errno));
  base_ = static_cast<const std::byte*>(p);
}

SafetensorsFile::~SafetensorsFile() {
  if (base_ && ::munmap(const_cast<std::byte*>(base_), size_) != 0) {
    std::cerr << "lineage: warning: munmap failed for " << header_.path << "\n";
  }
}

std::span<const std::byte> SafetensorsFile::bytes(const SafetensorsEntry& e) const noexcept {
  return {base_ + e.data_begin, static_cast<std::size_t>(e.data_end - e.data_begin)};
}

std::span<const std::byte> SafetensorsFile::range(std::uint64_t begin, std::uint64_t end) const {
  if (begin > end || end > size_) {
    throw InputError(header_.path.string(), "byte range past the end of the file", {}, begin);
  }
  return {base_ + begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace lineage::io
