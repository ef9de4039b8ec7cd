#pragma once
/// @file preflight.hpp
/// Everything that can be checked before an allocation is spent: every model's headers, index
/// and config; that the models share something to compare; the output folder; an existing store
/// (it must belong to the same run, which the job then resumes); and free disk for the store.

#include <cstdint>
#include <string>
#include <vector>

#include "core/family_registry.hpp"
#include "core/run_config.hpp"

namespace lineage::jobs {

struct PreflightReport {
  std::size_t models = 0;
  std::size_t units = 0;
  std::uint64_t bytes_to_read = 0;
  std::uint64_t estimated_store_bytes = 0;  ///< store + journals, per store
  std::uint64_t free_bytes = 0;
  bool resumes_existing = false;      ///< an existing store of this run will be resumed
  std::vector<std::string> problems;  ///< each a full sentence naming the file; empty: go
  std::size_t output_problems = 0;    ///< how many of them concern the output (folder, disk, store)
  [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
  /// Every problem is about the output, none about the models.
  [[nodiscard]] bool only_output_problems() const noexcept { return !ok() && output_problems == problems.size(); }
};

/// @param[in] stores  the stores the job will write (one, or one per array task)
[[nodiscard]] PreflightReport preflight(const RunConfig& cfg, const FamilyRegistry& registry,
                                        const std::vector<std::string>& stores);

}  // namespace lineage::jobs
