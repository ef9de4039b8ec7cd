#pragma once
/// @file freed_memory.hpp
/// Giving freed heap memory back to the system. glibc keeps freed small blocks for reuse, so
/// rank 0's resident set stays at its high mark after the journal's outcomes or the verdicts'
/// JSON are freed, and the store built next (whose memory is mapped anew) comes on top of it.

namespace lineage::pipeline {

/// Returns the heap's free pages to the system where the C library can (glibc's malloc_trim).
/// True where it can: false means the C library offers no way and nothing was done.
bool return_freed_memory() noexcept;

}  // namespace lineage::pipeline
