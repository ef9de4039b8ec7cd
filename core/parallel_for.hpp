#pragma once
/// @file parallel_for.hpp
/// Independent pieces of work on as many threads as this process has cores (usable_cores: one on
/// a rank of `compare` bound to one core, so ranks never compete with their own threads).

#include <cstddef>
#include <functional>

namespace lineage {

/// Calls fn(0) .. fn(count - 1), each once, on up to usable_cores() threads (this one among
/// them), and returns when all are done. If calls throw, the exception of the lowest index is
/// rethrown, as a loop in index order would have thrown it first.
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn);

}  // namespace lineage
