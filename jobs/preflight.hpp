#pragma once
/// @file preflight.hpp
/// Everything that can be checked before an allocation is spent: every model's headers, index
/// and config; that the models share something to compare; the output folder; an existing store
/// (it must belong to the same run, which the job then resumes); free disk for the store; and
/// where the run's per-unit arrays will live (spill files in the store's folder, or memory).

#include <cstdint>
#include <optional>
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
  /// The run's spill files in the store's folder at once, every rank of every store's job
  /// (io/spilled_vector.hpp): freed when the run ends, so not part of the store's estimate.
  std::uint64_t estimated_spill_bytes = 0;
  /// Said before submitting, never a refusal: the run still works, with more memory per rank.
  std::vector<std::string> notes;
  bool resumes_existing = false;      ///< an existing store of this run will be resumed
  std::vector<std::string> problems;  ///< each a full sentence naming the file; empty: go
  std::size_t output_problems = 0;    ///< how many of them concern the output (folder, disk, store)
  [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
  /// Every problem is about the output, none about the models.
  [[nodiscard]] bool only_output_problems() const noexcept { return !ok() && output_problems == problems.size(); }
};

/// The spill files' bytes of one run of `units` units on `ranks` ranks: measured per unit on rank
/// 0 (its store columns, evidence and texts) and on each other rank (its plan of units and work
/// items).
[[nodiscard]] std::uint64_t spill_bytes_of_run(std::uint64_t units, std::uint64_t ranks) noexcept;

/// What a user should know about the spill files before submitting, or nothing: whether the
/// store's `folder` can hold them at all (`folder_can_spill`: ext4 or XFS, writable), and whether
/// `spill_bytes` fit in `free_bytes` (a file spills only while it takes at most a quarter of the
/// space left). `rank0_bytes` is what rank 0 then holds in memory instead.
[[nodiscard]] std::optional<std::string> spill_note(const std::string& folder, bool folder_can_spill,
                                                    std::uint64_t free_bytes, std::uint64_t spill_bytes,
                                                    std::uint64_t rank0_bytes);

/// @param[in] stores  the stores the job will write (one, or one per array task)
[[nodiscard]] PreflightReport preflight(const RunConfig& cfg, const FamilyRegistry& registry,
                                        const std::vector<std::string>& stores);

}  // namespace lineage::jobs
