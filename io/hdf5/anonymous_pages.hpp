#pragma once
/// @file anonymous_pages.hpp
/// Private anonymous memory for the in-memory result store: pages filled in by one call when
/// taken (MADV_POPULATE_WRITE) instead of one page fault each, which this kind of virtual machine
/// makes expensive, and grown in place or moved by the kernel (mremap), never copied. The store of
/// a large run is tens to hundreds of megabytes, built in memory and written out from this memory
/// (io/hdf5/h5_file.hpp).

#include <cstddef>
#include <span>
#include <utility>

namespace lineage::io {

class AnonymousPages {
 public:
  AnonymousPages() = default;
  /// `size` bytes, zero (anonymous pages), populated. Throws std::bad_alloc when refused.
  explicit AnonymousPages(std::size_t size);
  AnonymousPages(AnonymousPages&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)),
        touched_(std::exchange(o.touched_, 0)) {}
  AnonymousPages& operator=(AnonymousPages&& o) noexcept;
  AnonymousPages(const AnonymousPages&) = delete;
  AnonymousPages& operator=(const AnonymousPages&) = delete;
  ~AnonymousPages() { release(); }

  /// Makes the size `size`, keeping the first min(old, new) bytes; new bytes are zero. The capacity
  /// at least doubles when it grows, so n growths by small steps move pages O(log n) times. Returns
  /// false (and changes nothing) when the kernel refuses the memory.
  [[nodiscard]] bool resize(std::size_t size) noexcept;
  /// Unmaps; the object is then empty.
  void release() noexcept;

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;  // mapped bytes, a whole number of pages
  std::size_t touched_ = 0;   // bytes from here on were never handed out: still zero
};

}  // namespace lineage::io
