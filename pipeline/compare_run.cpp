#include "pipeline/compare_run.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "cluster/phase.hpp"
#include "cluster/unit_executor.hpp"
#include "core/errors.hpp"
#include "core/heap_tuning.hpp"
#include "core/terminal_stream.hpp"
#include "io/family_file.hpp"
#include "io/journal/journal.hpp"
#include "io/run_lock.hpp"
#include "io/spilled_vector.hpp"
#include "io/store/result_store.hpp"
#include "pipeline/data_dirs.hpp"
#include "pipeline/environment.hpp"
#include "pipeline/freed_memory.hpp"
#include "pipeline/journaled_work.hpp"
#include "pipeline/matched_phase.hpp"
#include "pipeline/stop_signal.hpp"
#include "pipeline/store_lock.hpp"
#include "pipeline/verdict_report.hpp"
#include "stages/align/byte_identity.hpp"
#include "stages/execute/execute_unit.hpp"
#include "stages/plan/run_plan.hpp"
#include "stages/plan/shard_plan.hpp"
#include "stages/plan/work_plan.hpp"

namespace lineage::pipeline {
namespace {

namespace fs = std::filesystem;

nlohmann::json config_json(const RunConfig& c, std::uint64_t row_block_bytes) {
  return {{"suspect", c.suspect},
          {"row_block_bytes", row_block_bytes},
          {"parents", c.parents},
          {"controls", c.controls},
          {"out", c.out},
          {"baselines", c.baselines},
          {"family", c.family.value_or("")},
          {"null_permutations", c.null_permutations},
          {"screen", c.screen},
          // Block-scaled weights are read as their values (io::reads_block_scaled_values).
          {"block_scaled", "values"},
          {"pair", c.pair ? nlohmann::json(*c.pair) : nlohmann::json(nullptr)}};
}

fs::path journal_dir(const RunConfig& c) { return io::journal_dir_of(c.out); }

/// The output's folder, and an earlier run there only with --resume: what a run must know before
/// it reads anything of the models (pipeline/matched_phase.hpp reads rows before the pre-flight).
void check_output_place(const RunConfig& cfg) {
  const fs::path out = cfg.out;
  const auto parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(parent)) throw StoreError(out.string() + ": the folder " + parent.string() + " does not exist");
  if (::access(parent.c_str(), W_OK) != 0) throw StoreError(out.string() + ": the folder is not writable");
  const bool has_store = fs::exists(out);
  const bool has_journal = fs::exists(journal_dir(cfg));
  if (has_journal && !fs::is_directory(journal_dir(cfg))) {
    throw StoreError(journal_dir(cfg).string() + ": exists but is not a folder (a run's journal is a folder of " +
                     "per-rank files); move it away or choose another --out");
  }
  if ((has_store || has_journal) && !cfg.resume) {
    throw StoreError(out.string() +
                     ": a result store (or its journal) already exists; pass --resume to continue "
                     "that run, or choose another --out");
  }
}

/// Rank 0 validates the run an existing store holds (the output's place was checked before the
/// models' rows were read: check_output_place); the outcome is shared.
/// `units` are the run's units as recorded (stored_units), the first `planned` of them the pair
/// stage's (the digest's), the rest the matched units planned before the pass.
void check_output(const RunConfig& cfg, const std::vector<io::StoredModel>& models, const std::string& units_digest,
                  const io::SpilledVector<io::StoredUnit>& units, std::size_t planned, std::uint64_t row_block_bytes,
                  std::optional<io::StoreContents>& existing) {
  const fs::path out = cfg.out;
  if (!fs::exists(out)) return;
  existing = io::read_result_store(out);
  if (existing->models.size() != models.size())
    throw StoreError(out.string() + ": --resume with other models than the stored run");
  for (std::size_t m = 0; m < models.size(); ++m) {
    const auto& was = existing->models[m];
    const auto& now = models[m];
    if (was.fingerprint() != now.fingerprint()) {
      throw StoreError(out.string() + ": --resume, but the files of " + now.label + " (" + now.path +
                       ") changed since the run began");
    }
    // A shard edited in place keeps its size and may keep the sampled blocks: its time moves.
    for (std::size_t s = 0; s < was.shard_mtimes_ns.size() && s < now.shard_mtimes_ns.size(); ++s) {
      if (was.shard_mtimes_ns[s] != now.shard_mtimes_ns[s]) {
        throw StoreError(out.string() + ": --resume, but " + now.path + "/" + now.shard_files[s] + " of " + now.label +
                         " was modified since the run began (its modification time changed); " +
                         "start a new run (another --out)");
      }
    }
  }
  // What each unit computes must not change: a screening run's units and a full run's,
  // or units with and without the permutation null, would be judged as if alike. (A store from
  // before "screen" was recorded is a full run's.)
  const auto config = nlohmann::json::parse(existing->config_json, nullptr, false);
  if (!io::reads_block_scaled_values(*existing)) {
    // Its block-FP8 weights' statistics and hashes are of their codes; the rest would be of values.
    throw StoreError(out.string() +
                     ": --resume, but the run began with an earlier lineage, which read "
                     "block-scaled weights on their codes; start a new run (another --out)");
  }
  if (config.is_object()) {
    const bool was_screen = io::is_screening_run(*existing);
    if (was_screen != cfg.screen) {
      throw StoreError(out.string() + ": --resume " + (cfg.screen ? "with" : "without") +
                       " --screen, but the run began " +
                       (was_screen ? "as a screening run (--screen)" : "as a full run") +
                       "; resume it as it began, or start a new run (another --out)");
    }
    if (config.contains("null_permutations") && config["null_permutations"].is_number_integer() &&
        config["null_permutations"].get<int>() != cfg.null_permutations) {
      throw StoreError(out.string() + ": --resume with --null-permutations " + std::to_string(cfg.null_permutations) +
                       ", but the run began with " + config["null_permutations"].dump() +
                       "; resume with the run's, or start a new run (another --out)");
    }
  }
  // A split unit's blocks and its hash depend on the row block size: it stays the run's.
  if (config.is_object() && config.contains("row_block_bytes") && config["row_block_bytes"].is_number_unsigned() &&
      config["row_block_bytes"].get<std::uint64_t>() != row_block_bytes) {
    throw StoreError(out.string() + ": --resume with row blocks of " + std::to_string(row_block_bytes) +
                     " bytes, but the run began with " + config["row_block_bytes"].dump() +
                     " (LINEAGE_ROW_BLOCK_BYTES); resume with the size the run began with");
  }
  stages::UnitListDigest stored_digest;
  for (const auto& u : existing->units) {
    // matched_expert units are planned from sketches (pipeline/matched_phase.hpp), not the pair stage.
    if (u.kind != UnitKind::matched_expert) stored_digest.add(u.key_a, u.key_b);
  }
  if (stored_digest.hex() != units_digest)
    throw StoreError(out.string() + ": --resume with another unit list (options changed?)");
  // The matched units planned before this pass (ids from the planned units on) must be the ones
  // the stored run planned, or its journals would name other units by the same ids.
  for (std::size_t id = planned; id < units.size() && id < existing->units.size(); ++id) {
    if (existing->units[id] != units[id]) {
      throw StoreError(out.string() + ": --resume, but unit " + std::to_string(id) +
                       " (a matched_expert unit) is not the one the run began with (begun by another lineage "
                       "version?); start a new run (another --out)");
    }
  }
}

std::string session_id() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(::getpid());
}

/// Rank 0's session id on every rank (collective).
std::string session_of(const cluster::Communicator& comm) {
  std::string s = comm.is_root() ? session_id() : std::string();
  const auto b = comm.broadcast({reinterpret_cast<const std::byte*>(s.data()), s.size()}, 0);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string writer_id() {
  if (const auto& job = environment().slurm_job_id) return "slurm:" + *job;
  return "local";
}

/// /plan after this run: units planned now get this run's rank; units finished by an earlier run
/// keep the rank the store recorded for them (a resume never turns them into -1).
/// A split unit is recorded with the rank of its (first planned) block 0.
void record_plan(io::StoreContents& store, const stages::WorkPlan& plan, int ranks, bool planned_any) {
  const auto n = store.units.size();
  if (store.plan_rank_of_unit.size() != n) store.plan_rank_of_unit.assign(n, -1);
  const auto rank_of_unit = plan.rank_of_unit(n);
  for (std::size_t id = 0; id < n; ++id) {
    if (rank_of_unit[id] >= 0) store.plan_rank_of_unit[id] = rank_of_unit[id];
  }
  if (planned_any || store.plan_bytes_per_rank.empty()) {
    store.plan_ranks = ranks;
    store.plan_bytes_per_rank = plan.shards.bytes_of_rank;
  }
}

/// Empties `run`'s units and gives their memory back to the system (pipeline/freed_memory.hpp).
void release_units(stages::RunPlan& run) {
  stages::UnitList().swap(run.pairs.units);
  (void)return_freed_memory();
}

/// Empties `run`'s units and models (their open files closed), the same.
void release_plan(stages::RunPlan& run) {
  std::vector<stages::RunModel>().swap(run.models);
  release_units(run);
}

/// LINEAGE_STEP_CPU=1 (benchmark aid, docs/cli.md): this process's CPU seconds (user + system,
/// every thread) per step of compare, one stderr line per step, so a benchmark can set the cost of
/// one step against the whole run's within the same run (a shared machine's noise cancels).
class StepClock {
 public:
  // The first step counts from the start of the process.
  StepClock(bool on, int rank) : on_(on), rank_(rank) {}
  void mark(std::string_view step) {
    if (!on_) return;
    const double now = cpu_seconds();
    // One write per line: the ranks' lines reach mpirun's stderr whole.
    const auto line = "lineage: step-cpu rank " + std::to_string(rank_) + " " + std::string(step) + " " +
                      std::to_string(now - last_) + "\n";
    (void)!::write(STDERR_FILENO, line.data(), line.size());
    last_ = now;
  }

 private:
  static double cpu_seconds() {
    ::rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto seconds = [](const ::timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return seconds(u.ru_utime) + seconds(u.ru_stime);
  }
  bool on_;
  int rank_;
  double last_ = 0;
};

/// LINEAGE_FAULT=PHASE:RANK[:KIND] (testing aid, docs/cli.md).
struct Fault {
  std::string phase;
  int rank = 0;
  std::string kind = "std";
};

std::optional<Fault> parse_fault(const std::optional<std::string>& spec) {
  if (!spec) return std::nullopt;
  Fault f;
  const auto a = spec->find(':');
  const auto b = a == std::string::npos ? std::string::npos : spec->find(':', a + 1);
  if (a == std::string::npos) throw ConfigError("LINEAGE_FAULT", "expected PHASE:RANK[:KIND], got '" + *spec + "'");
  f.phase = spec->substr(0, a);
  try {
    f.rank = std::stoi(spec->substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
  } catch (const std::exception&) {
    throw ConfigError("LINEAGE_FAULT", "expected PHASE:RANK[:KIND], got '" + *spec + "'");
  }
  if (b != std::string::npos) f.kind = spec->substr(b + 1);
  if (f.kind != "std" && f.kind != "input" && f.kind != "kill")
    throw ConfigError("LINEAGE_FAULT", "KIND is std, input or kill, got '" + f.kind + "'");
  return f;
}

/// LINEAGE_TEST_MOVES_AFTER_PASS: comma-separated text layers.
std::set<int> parse_layers_after_pass(const std::optional<std::string>& spec) {
  std::set<int> layers;
  if (!spec) return layers;
  std::size_t at = 0;
  while (at <= spec->size()) {
    const auto end = std::min(spec->find(',', at), spec->size());
    const auto* first = spec->data() + at;
    const auto* last = spec->data() + end;
    int layer = -1;
    // Digits only: from_chars takes no sign or space, and reports overflow.
    const auto [stop, error] = std::from_chars(first, last, layer);
    if (first == last || error != std::errc{} || stop != last || *first == '-')
      throw ConfigError("LINEAGE_TEST_MOVES_AFTER_PASS", "expected layers L[,L...], got '" + *spec + "'");
    layers.insert(layer);
    at = end + 1;
  }
  return layers;
}

/// LINEAGE_TEST_READS_TRIAL_MIN_BYTES: a whole number of bytes (0 counts every unit), or the
/// trial's own minimum when unset.
std::uint64_t reads_trial_min_bytes(const std::optional<std::string>& setting) {
  return setting ? whole_number_of(*setting, "LINEAGE_TEST_READS_TRIAL_MIN_BYTES", 0)
                 : cluster::UnitReadsChoice::kMinTrialBytes;
}

/// Fails this rank at the start of `phase` when LINEAGE_FAULT asks for it.
void inject(const std::optional<Fault>& fault, std::string_view phase, int rank) {
  if (!fault || fault->phase != phase || fault->rank != rank) return;
  const std::string what = "injected fault in phase " + std::string(phase) + " (LINEAGE_FAULT)";
  if (fault->kind == "kill") std::raise(SIGKILL);
  if (fault->kind == "input") throw InputError("LINEAGE_FAULT", what);
  throw std::runtime_error(what);
}

}  // namespace

int run_compare(const RunConfig& cfg, const cluster::Communicator& comm, std::ostream& out) {
  const bool root = comm.is_root();
  const int rank = comm.rank();
  install_stop_handlers();  // again after MPI's start-up (commands/compare.cpp installed them before)
  install_bus_error_handler(rank);
  std::optional<Fault> fault;
  // Every phase runs under the failure protocol (cluster/phase.hpp): whatever one rank throws,
  // all ranks agree and throw the same PhaseError, so no rank is left waiting in a collective.
  // Phases whose failures are store problems (the lock, the store, the journals) exit 5.
  const auto own = cluster::PhaseCategory::own();
  const auto store_phase = cluster::PhaseCategory::always(ExitCode::store);

  // ---- the writer lock: one run per store, held by rank 0 until the end (io/run_lock.hpp) ----
  std::optional<io::RunLock> lock;
  cluster::run_phase(comm, "lock", store_phase, [&] {
    fault = parse_fault(environment().fault);
    inject(fault, "lock", rank);
    if (root) lock.emplace(cfg.out, store_lock_holder());
  });

  // The plan's units on every rank, and rank 0's store columns (its unit records and statistics),
  // grow with the model: they are pages of unnamed files in the store's folder, not anonymous
  // memory (io/spilled_vector.hpp). A rank that cannot create files there holds them as before.
  const fs::path store_path(cfg.out);
  const io::SpillScope spill(store_path.has_parent_path() ? store_path.parent_path() : fs::path("."));

  // ---- front half: identical on every rank --------------------------------------------------
  // Every rank builds the same run plan from the same headers (deterministic), so no broadcast
  // of the unit list is needed and unit ids agree everywhere. Loading and pairing are one phase;
  // LINEAGE_FAULT still names them apart (load, pair) through the builder's steps.
  auto run = cluster::run_phase(comm, "load", own, [&] {
    stages::RunPlanOptions options;
    options.before_step = [&](std::string_view step) { inject(fault, step, rank); };
    auto built = stages::build_run_plan(cfg, io::load_family_registry(families_dir_of(cfg.families_dir)), options);
    if (!built.comparable()) {
      throw InputError(cfg.suspect,
                       "nothing comparable: no tensor of the suspect has a counterpart in the other models");
    }
    return built;
  });
  const auto& models = run.models;
  const auto& units = run.units();
  const auto block_bytes =
      cluster::run_phase(comm, "load", own, [&] { return row_block_bytes_of(environment().row_block_bytes); });
  const auto layers_after_pass = cluster::run_phase(
      comm, "load", own, [&] { return parse_layers_after_pass(environment().test_moves_after_pass); });
  const auto trial_min_bytes = cluster::run_phase(
      comm, "load", own, [&] { return reads_trial_min_bytes(environment().test_reads_trial_min_bytes); });
  const MatchedPhaseOptions matched_options{session_of(comm),
                                            [&](std::string_view phase) { inject(fault, phase, rank); },
                                            cfg.quiet ? nullptr : &out, layers_after_pass};

  StepClock clock(environment().step_cpu, rank);
  clock.mark("load");
  // What reading the headers and pairing left free (tens of megabytes of small blocks on a deep
  // MoE pair, which the larger buffers after it do not reuse) goes back to the system.
  (void)return_freed_memory();

  // ---- moved experts planned at their match before the pass (pipeline/matched_phase.hpp) -------
  MovesBeforePass before;
  before.planned = units.size();
  // The output's place first, once: a run refused there must not have read the models' rows.
  cluster::run_phase(comm, "preflight", store_phase, [&] {
    if (root) check_output_place(cfg);
  });
  if (cfg.matched_experts) {
    before = match_experts_before_pass(comm, run, matched_options);
    (void)return_freed_memory();  // the sketches' records, not held through the pass
  }
  clock.mark("moves-before-pass");

  // ---- pre-flight on rank 0 (under the lock): an existing run, its journals ---------------------
  io::StoreContents store;
  std::vector<std::uint8_t> done_flags(units.size(), 0);
  std::vector<cluster::JournaledHashes> journaled;
  bool new_store = false;
  cluster::run_phase(comm, "preflight", store_phase, [&] {
    inject(fault, "preflight", rank);
    if (!root) return;
    // A writer killed while writing the store leaves PATH.tmp-XXXXXX; only a lock holder may
    // remove them (nobody else can be writing one now).
    (void)io::remove_stale_store_temporaries(cfg.out);
    std::optional<io::StoreContents> existing;
    auto recorded = stages::stored_units(units);
    check_output(cfg, run.fingerprints, run.digest, recorded, before.planned, block_bytes, existing);
    if (existing) {
      store = std::move(*existing);
    } else {
      store.run_id = session_id();
      new_store = true;
    }
    store.config_json = config_json(cfg, block_bytes).dump();
    store.models = run.fingerprints;
    store.units = std::move(recorded);
    store.unmatched = run.pairs.unmatched;
    store.superseded_ids.clear();  // decided again after this run's pass
    store.stat_names = stages::unit_stat_names();
    store.writers.push_back(writer_id());
    const auto pending_blocks = read_journaled_work(cfg.out, units, block_bytes, [&](stages::UnitOutcome&& o) {
      if (o.unit_id >= done_flags.size()) return;
      done_flags[o.unit_id] = 1;
      journaled.push_back({o.unit_id, o.hash_a, o.hash_b});
    });
    std::sort(
        journaled.begin(), journaled.end(),
        [](const cluster::JournaledHashes& x, const cluster::JournaledHashes& y) { return x.unit_id < y.unit_id; });
    // Blocks of units not complete: re-checked like units, and only the others computed.
    journaled.insert(journaled.end(), pending_blocks.begin(), pending_blocks.end());
  });

  // ---- what is left, planned over this run's ranks ----------------------------------------------
  comm.broadcast_records(done_flags, 0);
  comm.broadcast_records(journaled, 0);
  stages::DoneBlocks done_blocks;
  for (const auto& j : journaled) {
    if (j.block >= 0) done_blocks.emplace(j.unit_id, static_cast<std::uint64_t>(j.block));
  }
  const auto& session = matched_options.session;
  std::uint64_t already = 0, deferred = 0;
  auto plan = cluster::run_phase(comm, "plan", own, [&] {
    inject(fault, "plan", rank);
    for (const auto& u : units) already += done_flags[u.id] != 0;
    // Deferred same-key units are left to the phase after the pass (as if done here).
    auto skip = done_flags;
    for (const auto id : before.deferred) {
      deferred += skip[id] == 0;
      skip[id] = 1;
    }
    // Large units as row blocks, each block a work item of its own (stages/plan/work_plan.hpp).
    return stages::plan_work(units, skip, done_blocks, comm.size(), block_bytes);
  });
  const std::uint64_t todo_count = units.size() - already - deferred;

  // ---- --resume: the units taken from the journal still hash as they did ----------------------
  if (!journaled.empty()) {
    cluster::run_phase(comm, "recheck", own, [&] {
      inject(fault, "recheck", rank);
      stages::NullOptions null_options;
      null_options.permutations = cfg.null_permutations;
      cluster::recheck_journaled_units(
          comm, cfg.out, run, journaled, null_options, block_bytes,
          [](const std::string& file_a, const std::string& file_b) { set_files_being_read(file_a, file_b); });
    });
  }
  if (root && !cfg.quiet) {
    // How each model was read when its config named no usable family (docs/families.md).
    for (const auto& m : models) {
      for (const auto& note : m.inventory.notes) out << "note: " << m.label << ": " << note << "\n";
    }
    for (const auto& note : run.pairs.notes) out << "note: " << note << "\n";
    out << "lineage compare: " << units.size() << " units (" << run.pairs.submatrix_keys.size()
        << " on common sub-matrices), " << already << " already done, ";
    if (deferred > 0) out << deferred << " deferred, ";
    out << todo_count << " to compute on " << comm.size() << (comm.size() == 1 ? " rank" : " ranks");
    if (const auto blocks = plan.block_items(); blocks > 0 || !done_blocks.empty()) {
      out << " (" << plan.items.size() - blocks << " whole units and " << blocks << " row blocks of split units";
      if (!done_blocks.empty()) out << "; " << done_blocks.size() << " row blocks already journaled";
      out << ")";
    }
    out << ", plan imbalance " << static_cast<int>(plan.shards.imbalance() * 1000) / 10.0 << "%\n";
  }

  // ---- the store exists before any journal, so a resumed run always finds the unit list ---------
  cluster::run_phase(comm, "journal", store_phase, [&] {
    inject(fault, "journal", rank);
    if (!root) return;
    record_plan(store, plan, comm.size(), todo_count > 0);
    if (new_store) io::write_result_store(cfg.out, store);
    const auto dir = journal_dir(cfg);
    fs::create_directories(dir);
    if (!fs::is_directory(dir)) throw StoreError(dir.string() + ": the journal is not a folder");
  });
  // Each rank opens its own journal file (the folder may be node-local or shared).
  auto journal = cluster::run_phase(comm, "journal", store_phase, [&] {
    return std::make_unique<io::JournalWriter>(io::rank_journal_path(cfg.out, rank, session));
  });

  // ---- compute: each rank its own units, journaled (cluster/unit_executor.hpp) -----------------
  cluster::UnitExecutorOptions exec_options;
  exec_options.null.permutations = cfg.null_permutations;
  exec_options.row_block_bytes = block_bytes;
  exec_options.unit_reads = cfg.unit_reads;
  exec_options.reads_trial_min_bytes = trial_min_bytes;
  exec_options.progress.quiet = cfg.quiet;
  exec_options.progress.terminal = ::isatty(STDERR_FILENO) != 0;
  exec_options.fail_at_unit = cfg.inject_failure_at_unit;
  exec_options.unit_delay_ms = cfg.test_unit_delay_ms;
  exec_options.stop_requested = [] { return stop_requested(); };
  exec_options.reading_files = [](const std::string& a, const std::string& b) { set_files_being_read(a, b); };
  exec_options.at_start = [&] { inject(fault, "compute", rank); };
  const auto execution = cluster::execute_units(comm, run, plan, std::move(journal), exec_options, raw_stderr());
  auto compute_failure = execution.failure;
  bool any_stopped = execution.stopped;
  auto total_computed = execution.computed;
  const auto total_blocks = execution.computed_blocks;
  auto total_mapped = execution.mapped;
  // The work plan (an item a unit, tens of megabytes on a deep MoE pair) is done with: the store
  // recorded its ranks and the pass has run it.
  plan = stages::WorkPlan{};

  // ---- rank 0: store from the journals -----------------------------------------------------------
  const auto gather = [&] {
    return cluster::run_phase(comm, "gather", store_phase, [&] {
      inject(fault, "gather", rank);
      // Split units' row blocks merge here, in block order, into their units' outcomes. The
      // journals hold every finished unit: the store's results (a resumed store's too) are
      // gathered from them again; what is returned are the outcomes of units not planned yet.
      if (!root) return std::map<std::uint64_t, stages::UnitOutcome>{};
      return gather_results(store, cfg.out, run.units(), block_bytes);
    });
  };
  auto unplanned = gather();
  // The journals' outcomes are in the store now; what they left free goes back before the
  // matching step works beside the store and the plan.
  (void)return_freed_memory();
  clock.mark("pass");
  // ---- after the pass: deferred units superseded or computed, moves the pass's sketches add ------
  std::vector<std::uint64_t> superseded;
  if (!compute_failure && !any_stopped && cfg.matched_experts) {
    // Read as this rank's trial ended (--read-units auto), not tried again; a rank whose trial did
    // not end tries again.
    if (execution.kept_reads) exec_options.unit_reads = *execution.kept_reads;
    auto after = run_matched_experts(comm, cfg, run, before, unplanned, store, exec_options, matched_options);
    superseded = std::move(after.superseded);
    if (after.execution) {
      compute_failure = after.execution->failure;
      any_stopped = after.execution->stopped;
      total_computed += after.execution->computed;
      total_mapped += after.execution->mapped;
      unplanned = gather();
    }
  }
  clock.mark("moves-after-pass");
  // No unit is computed from here on: what is built now is built once (on rank 0, holding the
  // store), so every rank returns large buffers when freed (core/heap_tuning.hpp), and what the
  // matching step's workers left free in their own arenas goes back.
  (void)return_large_buffers_when_freed();
  (void)return_freed_memory();
  // Superseded units are never computed (none has results); rank 0's results are in the store,
  // or in `unplanned` for matched units the matching step planned again after the gather.
  const bool complete =
      store.done_ids.size() +
          static_cast<std::size_t>(std::count_if(unplanned.begin(), unplanned.end(),
                                                 [&](const auto& d) { return d.first < units.size(); })) +
          superseded.size() ==
      units.size();
  // ---- rank 0: the results complete, the plan's units done with ----------------------------------
  // Journaled matched units the matching step planned again join the store's results. Those it did
  // not plan (it did not decide: the pass is not complete) are left out. A complete run's units are
  // then done with once their whole-tensor hashes are taken (the store records them): their memory,
  // most of the plan's, goes back before the tensor scan samples the models.
  std::size_t done_count = 0;
  std::optional<stages::WholeTensorHashes> known_hashes;
  const auto pass_bytes = run.bytes();
  cluster::run_phase(comm, "results", own, [&] {
    inject(fault, "results", rank);
    if (!root) return;
    take_results(store, unplanned, units.size());
    release_outcomes(unplanned);
    done_count = store.done_ids.size();
    if (!complete) return;
    known_hashes = stages::whole_tensor_hashes(models, units, store.done_ids, store.hash_a, store.hash_b, block_bytes);
    release_units(run);
  });
  // ---- tier 1 of the tensor scan, spread over the ranks (stages/align/byte_identity.hpp) --------
  const bool scan = [&] {
    const std::byte flag{static_cast<unsigned char>(root && complete ? 1 : 0)};
    return comm.broadcast({&flag, 1}, 0).at(0) == std::byte{1};
  }();
  std::vector<std::byte> scan_share;
  if (scan) {
    cluster::run_phase(comm, "scan", own, [&] { scan_share = stages::sample_share(models, rank, comm.size()); });
  }
  // This rank's share is let go once gathered; rank 0 lets the gathered ones go once merged.
  auto scan_shares = scan ? comm.gather(std::exchange(scan_share, {}), 0) : std::vector<std::vector<std::byte>>{};
  clock.mark("scan");
  std::string verdict_table;
  cluster::run_phase(comm, "verdict", own, [&] {
    inject(fault, "verdict", rank);
    if (!root) return;
    store.superseded_ids = superseded;
    store.status = complete ? "complete" : "partial";
    if (complete) {
      // Byte identity across names and the tensors' sampled SDs (stages/align/byte_identity.hpp).
      auto sampled = stages::merge_shares(models, scan_shares);
      std::vector<std::vector<std::byte>>().swap(scan_shares);
      store.tensor_scan_json =
          stages::scan_tensors(models, std::move(sampled), *known_hashes, pass_bytes).to_json_text();
      known_hashes.reset();
      // The rest of the plan is done with on rank 0: its memory goes back before the verdicts
      // are made.
      release_plan(run);
      // The verdicts as text: their JSON object (near a kilobyte a unit on a deep MoE pair) is
      // never held whole (verdict_text).
      auto verdicts = verdict_text(store);
      store.verdict_json = std::move(verdicts.json);
      verdict_table = std::move(verdicts.table);
      (void)return_freed_memory();
      store.summaries_json = summaries_from_store(store).dump();
    }
    (void)return_freed_memory();
  });
  try {
    cluster::run_phase(comm, "store", store_phase, [&] {
      inject(fault, "store", rank);
      if (root) io::write_result_store(cfg.out, store);
    });
  } catch (const cluster::PhaseError&) {
    // The store failure is what the exit code reports; a compute failure before it is still said.
    if (root && compute_failure) {
      for (const auto& m : compute_failure->messages()) std::cerr << "lineage: error: " << m << "\n";
    }
    throw;
  }

  clock.mark("verdict-and-store");
  int exit_code = 0;
  if (root) {
    if (!cfg.quiet) {
      out << "computed " << total_computed - total_blocks << " units this run";
      if (total_blocks > 0) out << " (and " << total_blocks << " row blocks of split units)";
      // Said where the user chose it, so that the choice is seen to be taken (docs/cli.md).
      if (cfg.unit_reads == UnitReads::map) out << ", " << total_mapped << " read through the files' mapping";
      if (cfg.unit_reads == UnitReads::automatic) {
        // What the ranks' trials kept (cluster/unit_reads_choice.hpp); a rank with too few units
        // large enough to try ends none.
        out << ", " << total_mapped << " read through the files' mapping (--read-units auto: ";
        if (execution.ranks_decided == 0) {
          out << "no rank ended a trial";
        } else {
          out << "mapping kept on " << execution.ranks_mapping << " of " << execution.ranks_decided
              << " ranks that ended a trial";
        }
        if (execution.copy_seconds_per_gb > 0) {
          char costs[96];
          std::snprintf(costs, sizeof costs, "; rank 0 tried copying at %.2f CPU s/GB, mapping at %.2f",
                        execution.copy_seconds_per_gb, execution.map_seconds_per_gb);
          out << costs;
        }
        out << ")";
      }
      out << "; " << done_count << "/" << store.units.size() << " done";
      if (!superseded.empty()) out << " (" << superseded.size() << " superseded by matched units)";
      out << "; store " << cfg.out << " (" << store.status << ")\n";
    }
    if (compute_failure) {
      for (const auto& m : compute_failure->messages()) std::cerr << "lineage: error: " << m << "\n";
      std::cerr << "lineage: the store keeps every finished unit; rerun with --resume\n";
      exit_code = static_cast<int>(compute_failure->exit_code());
    } else if (any_stopped || !complete) {
      if (!cfg.quiet) out << "stopped by signal after a clean checkpoint; rerun with --resume to finish\n";
      exit_code = kExitStoppedResumable;
    } else {
      out << "\n";
      out << verdict_table;
    }
  }
  return static_cast<int>(comm.max(static_cast<double>(exit_code)));
}

}  // namespace lineage::pipeline
