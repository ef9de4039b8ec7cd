#pragma once
/// @file image_pages.hpp
/// The memory of an in-memory HDF5 file (io/hdf5/h5_file.hpp): pages filled in by one call when
/// taken (MADV_POPULATE_WRITE) instead of one page fault each, which this kind of virtual machine
/// makes expensive, and grown in place or moved by the kernel (mremap), never copied. The store of
/// a large run is tens to hundreds of megabytes, built in memory and written out from this memory.
/// The pages are anonymous, or a shared mapping of the file the image is for: then they are the
/// file's own page cache, which the kernel writes back, and no anonymous memory holds the store.

#include <cstddef>
#include <span>
#include <utility>

namespace lineage::io {

class ImagePages {
 public:
  /// Anonymous pages, none yet.
  ImagePages() = default;
  /// `size` anonymous bytes, zero, populated. Throws std::bad_alloc when refused.
  explicit ImagePages(std::size_t size);
  /// Pages that are a shared mapping of `file` (open for reading and writing, empty; the caller
  /// keeps it open while the pages live, and closes it). Each growth first reserves the file's
  /// blocks (fallocate), so a full disk is a refused growth, never a fault on a mapped page, where
  /// the file system writes a page into its reserved block (not on copy-on-write ones). The file
  /// ends at the capacity reserved so far, past the size: its owner truncates it.
  [[nodiscard]] static ImagePages of_file(int file) noexcept;
  ImagePages(ImagePages&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)),
        touched_(std::exchange(o.touched_, 0)),
        file_(std::exchange(o.file_, -1)),
        refusal_(std::exchange(o.refusal_, 0)) {}
  ImagePages& operator=(ImagePages&& o) noexcept;
  ImagePages(const ImagePages&) = delete;
  ImagePages& operator=(const ImagePages&) = delete;
  ~ImagePages() { release(); }

  /// Makes the size `size`, keeping the first min(old, new) bytes; new bytes are zero. The capacity
  /// at least doubles when it grows, so n growths by small steps move pages O(log n) times. Returns
  /// false (and changes nothing) when the kernel refuses the memory or the file's blocks; refusal()
  /// then says why.
  [[nodiscard]] bool resize(std::size_t size) noexcept;
  /// Unmaps; the size is then 0 (a file's bytes stay in the file, and it stays the pages' file).
  void release() noexcept;

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// The errno of the last refused growth (ENOSPC for a full disk), 0 when none was refused.
  [[nodiscard]] int refusal() const noexcept { return refusal_; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;  // mapped bytes, a whole number of pages
  std::size_t touched_ = 0;   // bytes from here on were never handed out: still zero
  int file_ = -1;             // the mapped file, or -1: anonymous
  int refusal_ = 0;
};

}  // namespace lineage::io
