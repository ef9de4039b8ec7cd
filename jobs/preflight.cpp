#include "jobs/preflight.hpp"

#include <unistd.h>

#include <filesystem>

#include "core/errors.hpp"
#include "io/store/model_fingerprint.hpp"
#include "io/store/result_store.hpp"
#include "jobs/run_inputs.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/pair/pair_models.hpp"

namespace lineage::jobs {

namespace fs = std::filesystem;

PreflightReport preflight(const RunConfig& cfg, const FamilyRegistry& registry,
                          const std::vector<std::string>& stores) {
  PreflightReport r;
  std::vector<RunModel> models;
  try {
    models = load_run_models(cfg, registry);  // every header and index, strictly validated
  } catch (const Error& e) {
    r.problems.push_back(std::string("model input: ") + e.what());
    return r;
  }
  r.models = models.size();
  std::vector<const stages::Inventory*> invs;
  for (const auto& m : models) {
    invs.push_back(&m.inventory);
    if (!m.inventory.required_missing.empty()) {
      r.problems.push_back(m.dir + ": " + std::to_string(m.inventory.required_missing.size()) +
                           " tensors the config calls for are missing (first: " + m.inventory.required_missing.front() +
                           ")");
    }
  }
  const auto pairs = stages::pair_models(invs, [&] {
    stages::PairOptions o;
    o.baselines = cfg.baselines;
    return o;
  }());
  std::uint64_t kept_values = 0;
  bool comparable = false;
  for (const auto& u : pairs.units) {
    r.bytes_to_read += u.bytes();
    if (u.keep_values) kept_values += 2 * u.elements();
    comparable = comparable || u.kind == stages::UnitKind::same_key || u.kind == stages::UnitKind::submatrix;
  }
  r.units = pairs.units.size();
  if (!comparable) r.problems.push_back(cfg.suspect + ": nothing comparable with the other models");
  // Store: unit table (~200 B a unit), statistics (8 B each), kept values (float32), and the
  // journals, which hold the same statistics again until the store is written.
  const auto stats = stages::unit_stat_names().size();
  r.estimated_store_bytes = r.units * (200 + 2 * 8 * stats) + kept_values * 4 * 2 + (1u << 20);
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
          const auto it =
              std::find_if(models.begin(), models.end(), [&](const RunModel& m) { return m.label == sm.label; });
          if (it == models.end() ||
              io::fingerprint_model(it->label, it->dir, it->shard_files).fingerprint() != sm.fingerprint()) {
            same = false;
          }
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
