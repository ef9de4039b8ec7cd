#pragma once
/// @file spilled_vector.hpp
/// Vectors whose large buffers can be pages of a file instead of anonymous memory. Rank 0 holds a
/// run's per-unit statistics from the gather to the store's write: 66 doubles a unit, 123 MB on a
/// pair of 233,395 units, and more on deeper models. Spilled into a shared mapping of an unlinked
/// file in the store's folder, they are page cache that the kernel writes back and drops under
/// pressure, as the store's own image is (io/store/result_store.cpp), not anonymous memory that
/// grows with the model (docs/benchmarks.md, "the statistics spilled").

#include <cstddef>
#include <filesystem>
#include <limits>
#include <new>
#include <vector>

namespace lineage::io {

/// True when `file`'s file system gives a file the blocks it reserves (fallocate) and writes a
/// mapped page into its own reserved block, as ext4, XFS and tmpfs do: a full disk is then a
/// refused reservation, never a fault on a mapped page. Copy-on-write file systems allocate anew
/// at each write whatever was reserved; some file systems reserve nothing. Reserves the first page.
[[nodiscard]] bool reserves_blocks(int file) noexcept;

/// Buffers of at least this size are mappings of their own (spilled when a folder is set); smaller
/// ones are heap blocks.
inline constexpr std::size_t kSpillMinimumBytes = std::size_t{1} << 20;

/// From now on, in this process, SpillAllocator's large buffers are shared mappings of new
/// unlinked files in `folder` (empty: anonymous mappings, the default). A buffer the folder cannot
/// hold (a full disk, no permission, a file system that does not reserve blocks) gets anonymous
/// memory instead: the same contents, only not spilled. Returns the folder set before.
std::filesystem::path spill_large_buffers_to(std::filesystem::path folder);

/// spill_large_buffers_to(folder) for a scope: the folder set before is set again when it ends.
class SpillScope {
 public:
  explicit SpillScope(std::filesystem::path folder) : before_(spill_large_buffers_to(std::move(folder))) {}
  SpillScope(const SpillScope&) = delete;
  SpillScope& operator=(const SpillScope&) = delete;
  ~SpillScope() { (void)spill_large_buffers_to(std::move(before_)); }

 private:
  std::filesystem::path before_;
};

/// `bytes` for SpillAllocator (see there). Throws std::bad_alloc when no memory can be had.
[[nodiscard]] void* allocate_spillable(std::size_t bytes);
/// Gives back what allocate_spillable(bytes) returned.
void deallocate_spillable(void* data, std::size_t bytes) noexcept;

/// An allocator whose buffers of kSpillMinimumBytes or more are spilled (spill_large_buffers_to).
/// Stateless: every instance can free what another allocated.
template <class T>
struct SpillAllocator {
  using value_type = T;
  SpillAllocator() noexcept = default;
  template <class U>
  explicit SpillAllocator(const SpillAllocator<U>& /*other*/) noexcept {}
  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_spillable(n * sizeof(T)));
  }
  void deallocate(T* data, std::size_t n) noexcept { deallocate_spillable(data, n * sizeof(T)); }
  friend bool operator==(const SpillAllocator& /*a*/, const SpillAllocator& /*b*/) noexcept { return true; }
};

template <class T>
using SpilledVector = std::vector<T, SpillAllocator<T>>;

}  // namespace lineage::io
