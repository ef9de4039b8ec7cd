#include "jobs/preflight.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/errors.hpp"
#include "io/spilled_vector.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/run_plan.hpp"

namespace lineage::jobs {

namespace fs = std::filesystem;

namespace {
// Spill files mapped at once per unit (docs/benchmarks.md, ninth session; docs/cli.md): about
// 2.1 KB on rank 0 measured on a 233k-unit pair, rounded up for what a deeper model's texts add;
// each other rank holds only its plan of units and work items (320 and 72 bytes a unit).
constexpr std::uint64_t kRank0SpillBytesPerUnit = 2560;
constexpr std::uint64_t kOtherRankSpillBytesPerUnit = 400;

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }
}  // namespace

std::uint64_t spill_bytes_of_run(std::uint64_t units, std::uint64_t ranks) noexcept {
  return units * (kRank0SpillBytesPerUnit + kOtherRankSpillBytesPerUnit * (ranks > 0 ? ranks - 1 : 0));
}

std::optional<std::string> spill_note(const std::string& folder, bool folder_can_spill, std::uint64_t free_bytes,
                                      std::uint64_t spill_bytes, std::uint64_t rank0_bytes) {
  // Small runs hold little either way: a note only where it is worth a user's attention.
  constexpr std::uint64_t worth_saying = std::uint64_t{64} << 20;
  if (rank0_bytes < worth_saying) return std::nullopt;
  if (!folder_can_spill) {
    return folder +
           " cannot hold spill files (not ext4 or XFS, or not writable): rank 0 holds its per-unit "
           "arrays in memory, about " +
           mib(rank0_bytes) + " more (docs/cli.md)";
  }
  // The quarter is each file's bound as it is made; the files' total against it says early, which
  // is why the note says "may".
  if (free_bytes / 4 < spill_bytes) {
    return mib(free_bytes) + " free in " + folder + ": the run's spill files (about " + mib(spill_bytes) +
           ") may not all fit; what does not stays in the ranks' memory, up to about " + mib(rank0_bytes) +
           " more on rank 0 (docs/cli.md)";
  }
  return std::nullopt;
}

PreflightReport preflight(const RunConfig& cfg, const FamilyRegistry& registry,
                          const std::vector<std::string>& stores) {
  PreflightReport r;
  stages::RunPlan plan;
  try {
    plan = stages::build_run_plan(cfg, registry);  // every header and index, strictly validated
  } catch (const Error& e) {
    r.problems.push_back(std::string("model input: ") + e.what());
    return r;
  }
  r.models = plan.models.size();
  for (const auto& m : plan.models) {
    if (!m.inventory.required_missing.empty()) {
      r.problems.push_back(m.dir + ": " + std::to_string(m.inventory.required_missing.size()) +
                           " tensors the config calls for are missing (first: " + m.inventory.required_missing.front() +
                           ")");
    }
  }
  std::uint64_t kept_values = 0;
  for (const auto& u : plan.units()) {
    if (u.keep_values) kept_values += 2 * u.elements();
  }
  r.bytes_to_read = plan.bytes();
  r.units = plan.units().size();
  if (!plan.comparable()) r.problems.push_back(cfg.suspect + ": nothing comparable with the other models");
  // Store: unit table (~200 B a unit), statistics (8 B each), kept values (float32), and the
  // journals, which hold the same statistics again until the store is written.
  const auto stats = stages::unit_stat_names().size();
  r.estimated_store_bytes = r.units * (200 + std::uint64_t{16} * stats) + kept_values * 4 * 2 + (1u << 20);
  auto output_problem = [&](std::string text) {
    r.problems.push_back(std::move(text));
    ++r.output_problems;
  };
  const auto ranks = static_cast<std::uint64_t>(std::max(cfg.slurm.nodes, 1)) *
                     static_cast<std::uint64_t>(std::max(cfg.slurm.tasks_per_node, 1));
  const auto rank0_spill = spill_bytes_of_run(r.units, 1);
  r.estimated_spill_bytes = spill_bytes_of_run(r.units, ranks) * stores.size();
  bool spill_noted = false;
  for (const auto& s : stores) {
    const fs::path out(s);
    const auto dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      output_problem(s + ": the folder " + dir.string() + " does not exist");
      continue;
    }
    if (::access(dir.c_str(), W_OK) != 0) {
      output_problem(s + ": the folder " + dir.string() + " is not writable");
      continue;
    }
    const auto space = fs::space(dir, ec);
    if (!ec) {
      r.free_bytes = space.available;
      if (space.available < 2 * r.estimated_store_bytes * stores.size()) {
        output_problem(s + ": " + std::to_string(space.available >> 20) + " MiB free in " + dir.string() +
                       ", the stores need about " + std::to_string((r.estimated_store_bytes * stores.size()) >> 20) +
                       " MiB (twice that with headroom)");
      }
    }
    if (!spill_noted && !ec) {
      if (auto note = spill_note(dir.string(), io::can_spill_into(dir), space.available, r.estimated_spill_bytes,
                                 rank0_spill)) {
        r.notes.push_back(std::move(*note));
        spill_noted = true;  // the stores of an array job share a folder as a rule: said once
      }
    }
    if (fs::exists(out, ec)) {
      try {
        const auto existing = io::read_result_store(out);
        bool same = true;
        for (const auto& sm : existing.models) {
          const auto it = std::find_if(plan.fingerprints.begin(), plan.fingerprints.end(),
                                       [&](const io::StoredModel& m) { return m.label == sm.label; });
          if (it == plan.fingerprints.end() || it->fingerprint() != sm.fingerprint()) same = false;
        }
        if (same) {
          r.resumes_existing = true;
        } else {
          output_problem(s + ": an existing store of another run (other models or changed files); choose another out");
        }
      } catch (const Error& e) {
        output_problem(s + ": exists but is not a readable result store (" + e.what() + ")");
      }
    }
  }
  return r;
}

}  // namespace lineage::jobs
