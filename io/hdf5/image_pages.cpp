#include "io/hdf5/image_pages.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL and the pages fault in
#endif

namespace lineage::io {
namespace {

std::size_t page_size() noexcept {
  static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

}  // namespace

ImagePages::ImagePages(std::size_t size) {
  if (!resize(size)) throw std::bad_alloc();
}

ImagePages ImagePages::of_file(int file) noexcept {
  ImagePages pages;
  pages.file_ = file;
  return pages;
}

ImagePages& ImagePages::operator=(ImagePages&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    touched_ = std::exchange(o.touched_, 0);
    file_ = std::exchange(o.file_, -1);
    refusal_ = std::exchange(o.refusal_, 0);
  }
  return *this;
}

bool ImagePages::resize(std::size_t size) noexcept {
  if (size > capacity_) {
    const auto capacity = round_up(std::max(size, 2 * capacity_), page_size());
    // A file's blocks are reserved before any page over them is handed out.
    if (file_ >= 0 && ::fallocate(file_, 0, 0, static_cast<off_t>(capacity)) != 0) {
      refusal_ = errno;
      return false;
    }
    void* p = data_ != nullptr ? ::mremap(data_, capacity_, capacity, MREMAP_MAYMOVE)
              : file_ >= 0     ? ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, file_, 0)
                               : ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      refusal_ = errno;
      return false;
    }
    data_ = static_cast<std::byte*>(p);
    capacity_ = capacity;
  }
  if (size > size_) {
    // Bytes once used and given back by a smaller size are zeroed again; the rest were never touched.
    if (size_ < touched_) std::memset(data_ + size_, 0, std::min(size, touched_) - size_);
    if (size > touched_) {
      const auto from = touched_ / page_size() * page_size();
      (void)::madvise(data_ + from, round_up(size, page_size()) - from, MADV_POPULATE_WRITE);
      touched_ = size;
    }
  }
  size_ = size;
  return true;
}

void ImagePages::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, capacity_);
  data_ = nullptr;
  size_ = capacity_ = 0;
  // A file keeps the bytes written to it: mapped again, they are zeroed as they are handed out.
  if (file_ < 0) touched_ = 0;
}

}  // namespace lineage::io
