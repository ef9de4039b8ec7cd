#pragma once
/// @file usable_cores.hpp
/// How many cores this process may run on: its affinity mask, which Slurm and mpirun narrow to
/// the cores a rank was given (hardware_concurrency counts the whole node).

#include <cstddef>

namespace lineage {

/// At least 1.
[[nodiscard]] std::size_t usable_cores() noexcept;

}  // namespace lineage
