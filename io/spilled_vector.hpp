#pragma once
/// @file spilled_vector.hpp
/// Vectors whose large buffers can be pages of a file instead of anonymous memory. A run holds
/// arrays that grow with its unit count from the plan to the store's write: every rank's plan of
/// units (320 bytes a unit) and work items (72), rank 0's unit records and statistics (168 and 528
/// bytes): about 250 MB on a pair of 233,395 units, and more on deeper models. Spilled into a shared
/// mapping of an unnamed file in the store's folder, they are page cache that the kernel writes
/// back and drops under pressure, as the store's own image is (io/store/result_store.cpp), not
/// anonymous memory that grows with the model (docs/benchmarks.md, "the statistics, unit records
/// and plan spilled").

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace lineage::io {

/// Buffers of at least this size are mappings of their own (spilled when a folder is set); smaller
/// ones are heap blocks.
inline constexpr std::size_t kSpillMinimumBytes = std::size_t{1} << 20;

/// From now on, in this process, SpillAllocator's large buffers are shared mappings of new
/// unnamed files (O_TMPFILE) in `folder` (empty: anonymous mappings, the default), their blocks
/// reserved first. Only on ext4 and XFS, local file systems that write a mapped page into its
/// reserved block: not tmpfs (its reserved blocks are memory that cannot be dropped), network or
/// copy-on-write ones (where a mapped page can fail to be written back). A buffer the folder
/// cannot hold (another file system, no permission, past the process's file size limit, or more
/// than a quarter of the space left, which the store's own write still needs) gets anonymous memory
/// instead: the same contents, only not spilled. Returns the folder set before.
std::filesystem::path spill_large_buffers_to(std::filesystem::path folder);

/// Whether buffers can spill into `folder` at all (it exists, is writable, and on ext4 or XFS).
[[nodiscard]] bool can_spill_into(const std::filesystem::path& folder) noexcept;

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
/// allocate_spillable(count * size); std::bad_array_new_length when that overflows. Out of line, so
/// that no throw is seen in the moves of a SpilledText, whose allocator is always equal (a
/// basic_string's move assignment has a copying branch that only unequal allocators take).
[[nodiscard]] void* allocate_spillable_array(std::size_t count, std::size_t size);
/// Gives back what allocate_spillable(bytes) returned.
void deallocate_spillable(void* data, std::size_t bytes) noexcept;

/// An allocator whose buffers of kSpillMinimumBytes or more are spilled (spill_large_buffers_to).
/// Stateless: every instance can free what another allocated.
template <class T>
struct SpillAllocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "heap blocks are aligned for new's default only");
  using value_type = T;
  SpillAllocator() noexcept = default;
  template <class U>
  SpillAllocator(const SpillAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  [[nodiscard]] T* allocate(std::size_t n) { return static_cast<T*>(allocate_spillable_array(n, sizeof(T))); }
  void deallocate(T* data, std::size_t n) noexcept { deallocate_spillable(data, n * sizeof(T)); }
};

template <class T, class U>
bool operator==(const SpillAllocator<T>& /*a*/, const SpillAllocator<U>& /*b*/) noexcept {
  return true;
}

template <class T>
using SpilledVector = std::vector<T, SpillAllocator<T>>;
/// Text whose large buffer spills: a deep MoE pair's verdict or tensor scan JSON is tens of
/// megabytes, and while it grows the buffer it outgrew is held too.
using SpilledText = std::basic_string<char, std::char_traits<char>, SpillAllocator<char>>;

}  // namespace lineage::io
