#include "cluster/unit_executor.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>
#include <utility>

#include "core/errors.hpp"
#include "io/safetensors_file.hpp"
#include "stages/execute/execute_unit.hpp"

namespace lineage::cluster {
namespace {

namespace fs = std::filesystem;

/// Byte range of a view inside its file (validated by SafetensorsFile::range).
std::pair<std::uint64_t, std::uint64_t> view_range(const stages::ElementView& v, std::uint64_t rows,
                                                   std::uint64_t cols) {
  const std::uint64_t last = v.offset + (rows ? rows - 1 : 0) * v.row_stride + (cols ? cols - 1 : 0) * v.col_stride;
  return {v.data_begin, v.data_begin + (last + 1) * dtype_size(v.dtype)};
}

}  // namespace

UnitExecution execute_units(const Communicator& comm, const stages::RunPlan& plan, const stages::ShardPlan& shards,
                            std::unique_ptr<io::JournalWriter> journal, const UnitExecutorOptions& options,
                            std::ostream& progress_out) {
  const auto& units = plan.units();
  const auto& mine = shards.units_of_rank[static_cast<std::size_t>(comm.rank())];
  std::uint64_t my_bytes = 0;
  for (auto id : mine) my_bytes += units[id].bytes();
  ProgressReporter progress(comm, mine.size(), my_bytes, options.progress, progress_out);
  bool stopped = false;
  std::uint64_t computed = 0;
  UnitExecution result;
  try {
    run_phase(comm, "compute", PhaseCategory::own(), [&] {
      if (options.at_start) options.at_start();
      std::map<std::pair<int, std::string>, std::unique_ptr<io::SafetensorsFile>> files;
      auto file_of = [&](const stages::ElementView& v) -> io::SafetensorsFile& {
        auto& f = files[{v.model, v.file}];
        if (!f) {
          f = std::make_unique<io::SafetensorsFile>(fs::path(plan.models[static_cast<std::size_t>(v.model)].dir) /
                                                    v.file);
        }
        return *f;
      };
      // The whole view, as execute_unit expects: a unit may read past its compared rows (a
      // router whose expert counts differ is kept whole for the expert matching).
      auto bytes_of = [&](const stages::ElementView& v) {
        const auto [b, e] = view_range(v, v.rows, v.cols);
        return file_of(v).range(b, e);
      };
      auto last_sync = std::chrono::steady_clock::now();
      std::uint64_t bytes_done = 0;
      try {
        for (auto id : mine) {
          if (options.stop_requested && options.stop_requested()) {
            stopped = true;
            break;
          }
          const auto& u = units[id];
          if (options.fail_at_unit && *options.fail_at_unit == id) {
            throw InputError(u.a.tensor,
                             "injected failure at unit " + std::to_string(id) + " (--inject-failure-at-unit)");
          }
          const auto a = bytes_of(u.a);
          const auto b = bytes_of(u.b);
          auto& file_a = file_of(u.a);
          auto& file_b = file_of(u.b);
          if (options.reading_files) options.reading_files(file_a.path().string(), file_b.path().string());
          const auto range_a = view_range(u.a, u.a.rows, u.a.cols), range_b = view_range(u.b, u.b.rows, u.b.cols);
          // Map the unit's pages in one call each rather than by a fault per page; a sampled
          // unit reads only its sampled rows, so it is left to fault them in.
          if (!u.sampled) {
            file_a.prefetch(range_a.first, range_a.second);
            file_b.prefetch(range_b.first, range_b.second);
          }
          const auto outcome = stages::execute_unit(u, a, b, options.null);
          // The resident set stays at about one unit, however large the model.
          file_a.release(range_a.first, range_a.second);
          file_b.release(range_b.first, range_b.second);
          journal->append(id, outcome.serialize());
          ++computed;
          if (options.unit_delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(options.unit_delay_ms));
          bytes_done += u.bytes();
          const auto now = std::chrono::steady_clock::now();
          if (now - last_sync > std::chrono::seconds(2)) {
            journal->sync();
            last_sync = now;
          }
          progress.update(computed, bytes_done);
        }
      } catch (...) {
        // Keep what finished durable before reporting (a failed sync adds nothing to report).
        try {
          journal->sync();
        } catch (const Error&) {
        }
        throw;
      }
      journal->sync();
    });
  } catch (const PhaseError& e) {
    result.failure = e;
  }
  (void)progress.finish();
  journal.reset();
  result.stopped = comm.any(stopped);
  result.computed = comm.sum(computed);
  return result;
}

}  // namespace lineage::cluster
