#pragma once
/// @file heap_tuning.hpp
/// How the process's heap treats large buffers. glibc maps every allocation above its mmap
/// threshold (128 KiB at first, raised as such blocks are freed) afresh and trims the heap's free
/// top above its trim threshold, so a buffer allocated and freed once per unit (a unit's
/// histograms, a sample's matrices) was faulted in again, page by page, for every unit: on the
/// virtual machines measured each fault costs microseconds, and execute_unit spent more time
/// there than in its statistics (docs/benchmarks.md, "Large buffers kept in the heap").

#include <cstddef>

namespace lineage {

/// Blocks under 32 MiB come from the heap, and the free top of each arena is kept for reuse up to
/// 64 MiB rather than returned to the kernel: a process's resident set keeps its high-water mark
/// to within that, per arena (the main one and those of the threads that read models). Call
/// once, first thing in main. Returns whether the allocator took the settings (false without
/// glibc, or under a sanitizer's or another replaced allocator: a slower run, nothing else).
bool keep_large_buffers_in_heap() noexcept;

/// The opposite, for the work after a run's pass: blocks of 1 MiB and more become mappings of their
/// own, unmapped when freed, and the heap's free top is returned above 1 MiB. Rank 0 then holds
/// the whole store while it builds a few large short-lived buffers once each (a pair's evidence,
/// the verdicts' text, the store's columns of unit records); kept in the heap they left free pages
/// behind them that the resident set never gave back (docs/benchmarks.md, "rank 0's memory after
/// the pass"). Returns whether the allocator took the settings (false as keep_large_buffers_in_heap).
bool return_large_buffers_when_freed() noexcept;

/// Asks the kernel to back the whole 2 MiB pages inside [data, data + bytes) with transparent huge
/// pages, before they are first written. For a large buffer written once (a plan's 400k
/// comparison units are 140 MB): 70 faults instead of 35,000, each a trip through the hypervisor
/// on the virtual machines measured (docs/benchmarks.md, "`lineage plan` of the 100k-tensor
/// checkpoint"). Advice only: nothing happens where the kernel has no transparent huge pages or
/// they are off, or the range holds no whole huge page; the contents are the same either way.
/// The advice stays with the pages: call it for buffers that are mappings of their own (above the
/// heap's mmap threshold), not for heap blocks that other allocations reuse after them.
void advise_huge_pages(void* data, std::size_t bytes) noexcept;

}  // namespace lineage
