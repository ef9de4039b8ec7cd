#include "cluster/unit_executor.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <thread>
#include <tuple>
#include <utility>

#include "core/errors.hpp"
#include "io/safetensors_file.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/row_blocks.hpp"

namespace lineage::cluster {

namespace fs = std::filesystem;

/// Largest side of a whole unit or of a row block copied by pread (UnitBytes::read_as_asked):
/// twice a default row block, so that the two buffers stay small next to a rank's memory; larger
/// ones are mapped.
constexpr std::uint64_t kMaxCopiedRange = 2 * stages::kRowBlockBytes;

namespace {

/// The CPU time (user and system) this thread has used: what reading a unit costs the rank,
/// whatever else the machine runs (UnitReadsChoice).
double thread_cpu_seconds() noexcept {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

std::pair<std::uint64_t, std::uint64_t> UnitBytes::range(const stages::ElementView& v) {
  const std::uint64_t last =
      v.offset + (v.rows ? v.rows - 1 : 0) * v.row_stride + (v.cols ? v.cols - 1 : 0) * v.col_stride;
  return {v.data_begin, v.data_begin + (last + 1) * dtype_size(v.dtype)};
}

std::pair<std::uint64_t, std::uint64_t> UnitBytes::rows_range(const stages::ElementView& v, std::uint64_t first_row,
                                                              std::uint64_t rows) {
  const auto [first, end] = stages::stored_rows(v, first_row, rows);
  const auto size = dtype_size(v.dtype);
  return {v.data_begin + first * size, v.data_begin + end * size};
}

io::SafetensorsFile& UnitBytes::file(const stages::ElementView& v) { return file(v.model, v.file.str()); }

io::SafetensorsFile& UnitBytes::file(int model, const std::string& name) {
  auto& f = files_[{model, name}];
  if (!f) f = std::make_unique<io::SafetensorsFile>(fs::path(models_[static_cast<std::size_t>(model)].dir) / name);
  return *f;
}

std::shared_ptr<const stages::BlockScales> UnitBytes::scales_of(const stages::ElementView& v) {
  if (!stages::is_block_scalable(v.dtype)) return nullptr;
  const auto& model = models_[static_cast<std::size_t>(v.model)];
  const auto* source = stages::block_scale_companions(model).of(v.tensor.str());
  if (source == nullptr) return nullptr;
  const std::pair key{v.model, source->scale_tensor};
  if (const auto it = scales_.find(key); it != scales_.end()) return it->second;
  // Units of one weight follow each other: a few recent grids are all a rank needs.
  if (scales_.size() >= 64) scales_.clear();
  // Copied by pread, as a unit's bytes are: a file cut short fails this read with its own message.
  auto scales = std::make_shared<const stages::BlockScales>(stages::read_block_scales(
      *source, model.inventory, model.dir, [&](const stages::ClassifiedTensor& t, std::span<std::byte> out) {
        file(v.model, t.file.str()).read_into(t.data_begin, t.data_end, out.data());
      }));
  scales_.emplace(key, scales);
  return scales;
}

const stages::ComparisonUnit& UnitBytes::with_scales(const stages::ComparisonUnit& u) {
  if (!stages::is_block_scalable(u.a.dtype) && !stages::is_block_scalable(u.b.dtype)) return u;
  scales_a_ = scales_of(u.a);
  scales_b_ = scales_of(u.b);
  if (!scales_a_ && !scales_b_) return u;
  scaled_unit_ = u;
  scaled_unit_->a.scales = scales_a_.get();
  scaled_unit_->b.scales = scales_b_.get();
  return *scaled_unit_;
}

std::span<const std::byte> UnitBytes::of(const stages::ElementView& v) {
  const auto [b, e] = range(v);
  return file(v).range(b, e);
}

std::byte* UnitBytes::buffer(int side, std::size_t bytes) {
  const auto i = static_cast<std::size_t>(side);
  if (capacities_[i] < bytes) {
    buffers_[i] = std::make_unique_for_overwrite<std::byte[]>(bytes);
    capacities_[i] = bytes;
  }
  return buffers_[i].get();
}

std::span<const std::byte> UnitBytes::read(const stages::ElementView& v, int side) {
  const auto [begin, end] = range(v);
  const auto i = static_cast<std::size_t>(side);
  return file(v).read(begin, end, buffers_[i], capacities_[i]);
}

std::pair<std::span<const std::byte>, std::function<void(std::uint64_t)>> UnitBytes::read_as_asked(
    const stages::ElementView& v, std::pair<std::uint64_t, std::uint64_t> range, int side) {
  auto& f = file(v);
  (void)f.range(range.first, range.second);  // read()'s checks: inside the file as it was and as it is
  const auto i = static_cast<std::size_t>(side);
  const auto size = static_cast<std::size_t>(range.second - range.first);
  std::byte* out = buffer(side, size);
  copied_[i] = 0;
  auto ask = [this, &f, i, out, begin = range.first, size](std::uint64_t end) {
    if (end <= copied_[i]) return;
    end = std::min<std::uint64_t>(size, std::max(end, copied_[i] + kReadChunkBytes));
    f.read_into(begin + copied_[i], begin + end, out + copied_[i]);
    copied_[i] = end;
  };
  return {std::span<const std::byte>(out, size), std::move(ask)};
}

std::span<const std::byte> UnitBytes::read_rows(const stages::ElementView& v, std::span<const std::uint64_t> rows,
                                                std::uint64_t cols, int side) {
  const auto size = dtype_size(v.dtype);
  const std::size_t row_bytes = static_cast<std::size_t>(cols * size), total = rows.size() * row_bytes;
  std::byte* out = buffer(side, total);
  auto& f = file(v);
  for (std::size_t k = 0; k < rows.size();) {
    std::size_t run = 1;
    while (v.row_stride == cols && k + run < rows.size() && rows[k + run] == rows[k] + run) ++run;
    const auto begin = v.data_begin + (v.offset + rows[k] * v.row_stride) * size;
    f.read_into(begin, begin + run * row_bytes, out + k * row_bytes);
    k += run;
  }
  return {out, total};
}

void recheck_journaled_units(const Communicator& comm, const std::string& store, const stages::RunPlan& plan,
                             const std::vector<JournaledHashes>& journaled, const stages::NullOptions& null_options,
                             std::uint64_t block_bytes,
                             const std::function<void(const std::string&, const std::string&)>& reading_files) {
  // Plan ids are positions in `journaled` (a unit may have several journaled blocks).
  std::vector<stages::UnitCost> costs;
  costs.reserve(journaled.size());
  for (std::size_t i = 0; i < journaled.size(); ++i) {
    const auto& j = journaled[i];
    const auto& u = plan.units()[j.unit_id];
    std::uint64_t cost = u.bytes();
    if (j.block >= 0) {
      const auto blocks = stages::row_blocks(u, block_bytes);
      if (static_cast<std::uint64_t>(j.block) >= blocks.size()) {
        throw StoreError(store + ": --resume, but the journal's row block " + std::to_string(j.block) + " of unit " +
                         std::to_string(j.unit_id) + " is not a block of the unit at this row block size");
      }
      cost = blocks[static_cast<std::size_t>(j.block)].bytes;
    }
    costs.push_back({i, cost});
  }
  const auto share = stages::plan_shards(costs, comm.size());
  UnitBytes bytes(plan.models);
  for (auto i : share.units_of_rank[static_cast<std::size_t>(comm.rank())]) {
    const auto& want = journaled[i];
    const auto id = want.unit_id;
    const auto& u = bytes.with_scales(plan.units()[id]);
    const auto a = bytes.of(u.a);
    const auto b = bytes.of(u.b);
    if (reading_files) reading_files(bytes.file(u.a).path().string(), bytes.file(u.b).path().string());
    const auto got =
        want.block < 0
            ? stages::hash_unit(u, a, b, null_options, block_bytes)
            : stages::row_block_hashes(
                  u, a, b, stages::row_blocks(u, block_bytes)[static_cast<std::size_t>(want.block)], null_options);
    for (const auto& [view, was, now] : {std::tuple{&u.a, want.hash_a, got.a}, std::tuple{&u.b, want.hash_b, got.b}}) {
      if (was == now) continue;
      const auto& m = plan.models[static_cast<std::size_t>(view->model)];
      throw StoreError(store + ": --resume, but " + (fs::path(m.dir) / view->file.str()).string() + " of " + m.label +
                       " changed since the run began: tensor '" + view->tensor.str() +
                       (view->scales ? "' (its codes or its block scales)" : "'") + " no longer has the XXH3 hash " +
                       "its journaled unit " + std::to_string(id) + " (" + to_string(u.key_a) +
                       ") recorded; start a new run (another --out)");
    }
  }
}

UnitExecution execute_units(const Communicator& comm, const stages::RunPlan& plan, const stages::WorkPlan& work,
                            std::unique_ptr<io::JournalWriter> journal, const UnitExecutorOptions& options,
                            std::ostream& progress_out) {
  const auto& units = plan.units();
  const auto mine = work.items_of_rank(comm.rank());
  std::uint64_t my_bytes = 0;
  for (const auto* item : mine) my_bytes += item->bytes;
  auto progress_options = options.progress;
  // Every rank holds the whole work plan, so all agree on what the line counts.
  if (work.block_items() > 0) progress_options.counted = "units and row blocks";
  ProgressReporter progress(comm, mine.size(), my_bytes, progress_options, progress_out);
  bool stopped = false;
  std::uint64_t computed = 0, computed_blocks = 0, computed_mapped = 0, ranks_decided = 0, ranks_mapping = 0;
  UnitExecution result;
  try {
    run_phase(comm, "compute", PhaseCategory::own(), [&] {
      if (options.at_start) options.at_start();
      UnitBytes bytes(plan.models);
      UnitReadsChoice reads(options.unit_reads, options.reads_trial_min_bytes);
      auto last_sync = std::chrono::steady_clock::now();
      std::uint64_t bytes_done = 0;
      try {
        for (const auto* item : mine) {
          if (options.stop_requested && options.stop_requested()) {
            stopped = true;
            break;
          }
          const auto id = item->unit_id;
          const auto& u = bytes.with_scales(units[id]);
          const auto& block = item->block;
          if (options.fail_at_unit && *options.fail_at_unit == id && (!block || block->index + 1 == block->count)) {
            throw InputError(u.a.tensor,
                             "injected failure at unit " + std::to_string(id) + " (--inject-failure-at-unit)");
          }
          const auto a = bytes.of(u.a);
          const auto b = bytes.of(u.b);
          auto& file_a = bytes.file(u.a);
          auto& file_b = bytes.file(u.b);
          if (options.reading_files) options.reading_files(file_a.path().string(), file_b.path().string());
          const auto range_a = UnitBytes::range(u.a), range_b = UnitBytes::range(u.b);
          // Whether the item's bytes can be copied (ranges that fit the copy's buffers; a whole
          // unit read entirely, not a sampled one), and whether they are: as asked, or as the
          // trial of --read-units auto says, whose units' CPU times are recorded.
          const auto rows_a = block ? UnitBytes::rows_range(u.a, block->first_row, block->rows) : range_a;
          const auto rows_b = block ? UnitBytes::rows_range(u.b, block->first_row, block->rows) : range_b;
          const bool copyable = (block || !u.sampled) && rows_a.second - rows_a.first <= kMaxCopiedRange &&
                                rows_b.second - rows_b.first <= kMaxCopiedRange;
          const std::uint64_t kind =
              (static_cast<std::uint64_t>(u.kind) << 8) | static_cast<std::uint64_t>(u.key_a.role);
          const UnitReads way = copyable ? reads.next(kind, item->bytes) : UnitReads::map;
          const bool copied = copyable && way == UnitReads::copy;
          // Block 0 of a split unit also computes what is sampled across the whole tensors, which its
          // bytes do not count: left out of the trial's costs.
          const bool trial = copyable && reads.in_trial(item->bytes) && !(block && block->index == 0);
          const double cpu_before = trial ? thread_cpu_seconds() : 0;
          if (block) {
            // A row block: its rows copied by pread as the pass reaches them (bit for bit the bytes the mapping shows,
            // and no page-table update per page, which is what mapping costs on some virtual machines:
            // docs/benchmarks.md), or mapped in one call per side where the way chosen is mapping or the span of its
            // rows is larger than the buffers (rows longer than the block size; a transposed view, whose rows' span is
            // nearly the whole side). Block 0 also computes what is sampled across the whole tensors (below); the
            // pages mapped for it are released after, as a whole unit's.
            if (!copied) {
              file_a.prefetch(rows_a.first, rows_a.second);
              file_b.prefetch(rows_b.first, rows_b.second);
              ++computed_mapped;
            }
            auto part = [&] {
              if (!copied) return stages::row_block_partial(u, a, b, *block, options.null);
              auto [rows_bytes_a, ask_a] = bytes.read_as_asked(u.a, rows_a, 0);
              auto [rows_bytes_b, ask_b] = bytes.read_as_asked(u.b, rows_b, 1);
              return stages::row_block_partial_of_rows(u, rows_bytes_a, rows_bytes_b, *block, options.null,
                                                       {std::move(ask_a), std::move(ask_b)});
            }();
            if (block->index == 0) {
              // A sketch that does not read a few contiguous rows (gate and up: their hidden axis
              // is the columns) reads every row of its side: that side is copied whole, as an
              // unsplit unit's, rather than faulted in page by page; the null's and the neuron
              // matching's sampled rows stay mapped. (The copy starts at the tensor's first byte:
              // an expert packed into one tensor with others past the first 32 MiB stays mapped.)
              const auto sketch_side = [&](const stages::ElementView& v, std::span<const std::byte> mapped, int side) {
                const auto [begin, end] = UnitBytes::range(v);
                const bool sketch_reads_every_row = u.sketch && stages::sketch_rows(u, v).empty();
                return sketch_reads_every_row && end - begin <= kMaxCopiedRange ? bytes.read(v, side) : mapped;
              };
              part.sampled =
                  stages::unit_sampled_outcome(u, sketch_side(u.a, a, 0), sketch_side(u.b, b, 1), options.null);
            }
            file_a.release(range_a.first, range_a.second);
            file_b.release(range_b.first, range_b.second);
            journal->append_block(id, block->index, part.serialize());
            ++computed_blocks;
          } else if (copied) {
            // A whole unit read entirely: copied by pread as the pass reaches its bytes, no pages
            // mapped; bit for bit the bytes the mapping shows.
            auto [unit_bytes_a, ask_a] = bytes.read_as_asked(u.a, range_a, 0);
            auto [unit_bytes_b, ask_b] = bytes.read_as_asked(u.b, range_b, 1);
            const auto outcome = stages::execute_unit(u, unit_bytes_a, unit_bytes_b, options.null,
                                                      options.row_block_bytes, {std::move(ask_a), std::move(ask_b)});
            journal->append(id, outcome.serialize());
          } else if (stages::reads_sampled_rows_only(u)) {
            // A baseline's or within-model unit's sampled rows (1/32 of a large tensor's, spread
            // across it) copied by pread, a call per run of rows: faulting them in through the
            // mapping cost a page fault per row, which on some virtual machines is several times
            // a small read (docs/benchmarks.md).
            const auto rows = stages::sampled_rows_of(u, options.null);
            const auto outcome = stages::execute_unit_of_sampled_rows(
                u, bytes.read_rows(u.a, rows, u.cols, 0), bytes.read_rows(u.b, rows, u.cols, 1), options.null);
            journal->append(id, outcome.serialize());
          } else {
            // Another sampled unit reads only its sampled rows (token-mapped rows, a sketch's
            // dimensions): they fault in through the mapping. A larger unsampled one (row blocks
            // switched off) is mapped in one call per side.
            if (!u.sampled) {
              file_a.prefetch(range_a.first, range_a.second);
              file_b.prefetch(range_b.first, range_b.second);
              ++computed_mapped;
            }
            const auto outcome = stages::execute_unit(u, a, b, options.null, options.row_block_bytes);
            // The resident set stays at about one unit, however large the model.
            file_a.release(range_a.first, range_a.second);
            file_b.release(range_b.first, range_b.second);
            journal->append(id, outcome.serialize());
          }
          if (trial) reads.record(kind, way, item->bytes, thread_cpu_seconds() - cpu_before);
          ++computed;
          if (options.unit_delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(options.unit_delay_ms));
          bytes_done += item->bytes;
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
      const auto kept = reads.chosen();
      result.kept_reads = kept;
      if (options.unit_reads == UnitReads::automatic && kept) {
        ranks_decided = 1;
        ranks_mapping = *kept == UnitReads::map ? 1 : 0;
        result.copy_seconds_per_gb = reads.copy_seconds_per_gb();
        result.map_seconds_per_gb = reads.map_seconds_per_gb();
      }
    });
  } catch (const PhaseError& e) {
    result.failure = e;
  }
  (void)progress.finish();
  journal.reset();
  result.stopped = comm.any(stopped);
  result.computed = comm.sum(computed);
  result.computed_blocks = comm.sum(computed_blocks);
  result.mapped = comm.sum(computed_mapped);
  result.ranks_decided = comm.sum(ranks_decided);
  result.ranks_mapping = comm.sum(ranks_mapping);
  return result;
}

}  // namespace lineage::cluster
