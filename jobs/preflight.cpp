#include "jobs/preflight.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/errors.hpp"
#include "io/store/result_store.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/run_plan.hpp"

namespace lineage::jobs {

namespace fs = std::filesystem;

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
