#pragma once
/// @file heap_tuning.hpp
/// How the process's heap treats large buffers. glibc maps every allocation above its mmap
/// threshold (128 KiB at first, raised as such blocks are freed) afresh and trims the heap's free
/// top above its trim threshold, so a buffer allocated and freed once per unit (a unit's
/// histograms, a sample's matrices) was faulted in again, page by page, for every unit: on the
/// virtual machines measured each fault costs microseconds, and execute_unit spent more time
/// there than in its statistics (docs/benchmarks.md, "Large buffers kept in the heap").

namespace lineage {

/// Blocks under 32 MiB come from the heap, and up to 256 MiB of free heap is kept for reuse
/// rather than returned to the kernel. Call once, first thing in main. Returns whether the
/// allocator took the settings (false without glibc, or under a sanitizer's allocator).
bool keep_large_buffers_in_heap() noexcept;

}  // namespace lineage
