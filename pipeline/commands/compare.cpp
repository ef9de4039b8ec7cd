#include <boost/program_options.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cluster/communicator.hpp"
#include "cluster/launcher.hpp"
#include "cluster/mpi_session.hpp"
#include "cluster/phase.hpp"
#include "core/errors.hpp"
#include "io/run_file.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/compare_run.hpp"
#include "pipeline/environment.hpp"
#include "pipeline/stop_signal.hpp"

namespace lineage::pipeline::commands {

int compare(const std::vector<std::string>& args) {
  // Before anything slow (MPI's start-up, reading the run): Slurm may send the SIGUSR1 asked for
  // before a time limit up to a minute early (sbatch --signal), so at a job's start, and a rank
  // without the handler dies of it with no checkpoint. Caught here, it stops the run at its first
  // unit with a clean checkpoint (exit 7), as at any later moment. run_compare sets them again
  // after MPI's start-up, over any handler its libraries installed.
  install_stop_handlers();
  namespace po = boost::program_options;
  CommandLine command_line(
      "compare",
      "mpirun -np N lineage compare SUSPECT PARENT [options]   or   lineage compare --run RUN.yaml\n\n"
      "Compares every tensor of SUSPECT with its counterpart in PARENT (and in each --control), sharded over the\n"
      "MPI ranks by bytes; writes every statistic to an HDF5 result store and prints the verdicts.\n\noptions",
      "exit codes: 0 done, 1 internal error, 2 usage, 3 bad input, 4 bad run file, 5 store (existing\n"
      "store without --resume, another run holding OUT.lock, unwritable path or full disk, changed inputs,\n"
      "journal problems), 6 MPI, 7 stopped by SIGTERM/SIGUSR1 after a clean checkpoint (rerun with\n"
      "--resume). Every rank exits with the same code, whichever rank failed.\n");
  command_line.options()("out,o", po::value<std::string>(), "result store (default run.h5)")(
      "control", po::value<std::vector<std::string>>(), "control model folder (repeatable)")(
      "run", po::value<std::string>(), "YAML run file (docs/cli.md); options given here override it")(
      "resume", "continue the run in --out, recomputing only unfinished units")("quiet,q", "no progress output")(
      "family", po::value<std::string>(), "force a family for every model")(
      "families", po::value<std::string>(), "family files folder")("no-baselines",
                                                                   "skip the cross-layer baseline units")(
      "null-permutations", po::value<int>(),
      "relabellings per unit for the permutation null (default 100; 0 skips the tests: no p-values, verdicts "
      "inconclusive)")(
      "pair", po::value<std::size_t>(),
      "compare the suspect with model I only (parents then controls, from 0): one task of a job array")(
      "screen",
      "a screening run: the raw-byte hashes and the cosine, centred cosine and relative L2 of every same-key "
      "tensor, and nothing else (no null, baselines, sketches or expert matching): verdicts decided only from "
      "equal values (identity, reused values), else \"inconclusive\"; a first look at a very large pair "
      "(docs/cli.md)")(
      "read-units", po::value<std::string>(),
      "how the units' bytes are read: auto (default: each rank tries both on its first units and keeps the "
      "one that costs it less CPU time), copy (pread in 512 KiB chunks) or map (through the files' mapping, "
      "no copy: faster where page-table updates are cheap); the same results either way");
  command_line.hidden()("models", po::value<std::vector<std::string>>())
      // Testing aid: make the rank owning unit N fail (exercises the failing-rank path).
      ("inject-failure-at-unit", po::value<std::uint64_t>())
      // Benchmark aids (scripts/bench-sketch.sh): the pass without the per-expert sketches, or
      // without the layer matrices' sketches; compare without its second phase (matched experts).
      ("no-expert-sketches", "")("no-layer-sketches", "")("no-matched-experts", "")("test-unit-delay-ms",
                                                                                    po::value<std::uint32_t>());
  const auto parsed = command_line.parse(args, {{"models", 2}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  RunConfig cfg;
  if (vm.count("run")) cfg = io::read_run_file(vm["run"].as<std::string>());
  if (vm.count("models")) {
    const auto m = vm["models"].as<std::vector<std::string>>();
    cfg.suspect = m[0];
    if (m.size() > 1) cfg.parents = {m[1]};
  }
  if (cfg.suspect.empty() || (cfg.parents.empty() && !vm.count("control") && cfg.controls.empty())) {
    throw UsageError("compare: give SUSPECT and PARENT (or --run RUN.yaml); see lineage compare --help");
  }
  if (vm.count("control")) cfg.controls = vm["control"].as<std::vector<std::string>>();
  if (vm.count("out")) cfg.out = vm["out"].as<std::string>();
  if (vm.count("resume")) cfg.resume = true;
  if (vm.count("quiet")) cfg.quiet = true;
  if (vm.count("family")) cfg.family = vm["family"].as<std::string>();
  if (vm.count("families")) cfg.families_dir = vm["families"].as<std::string>();
  if (vm.count("no-baselines")) cfg.baselines = false;
  if (vm.count("no-expert-sketches")) cfg.expert_sketches = false;
  if (vm.count("no-layer-sketches")) cfg.layer_sketches = false;
  if (vm.count("no-matched-experts")) cfg.matched_experts = false;
  if (vm.count("null-permutations")) {
    cfg.null_permutations = vm["null-permutations"].as<int>();
    if (cfg.null_permutations < 0) throw UsageError("compare: --null-permutations must be >= 0");
  }
  if (vm.count("screen")) cfg.screen = true;
  if (cfg.screen) {  // from --screen or the run file
    if (cfg.null_permutations > 0 && vm.count("null-permutations")) {
      throw UsageError("compare: --screen computes no permutation null; leave out --null-permutations");
    }
    apply_screening(cfg);
  }
  if (vm.count("read-units")) {
    const auto reads = vm["read-units"].as<std::string>();
    const auto named = unit_reads_named(reads);
    if (!named) throw UsageError("compare: --read-units must be copy, map or auto, not '" + reads + "'");
    cfg.unit_reads = *named;
  }
  if (vm.count("pair")) cfg.pair = vm["pair"].as<std::size_t>();
  if (vm.count("inject-failure-at-unit")) cfg.inject_failure_at_unit = vm["inject-failure-at-unit"].as<std::uint64_t>();
  if (vm.count("test-unit-delay-ms")) cfg.test_unit_delay_ms = vm["test-unit-delay-ms"].as<std::uint32_t>();
  // The same aid through the environment, for jobs written by `lineage submit` (tests only).
  if (const auto d = environment().test_unit_delay_ms) cfg.test_unit_delay_ms = *d;
  // A rank started by mpirun dies with it: a SIGKILLed mpirun must not leave ranks behind that
  // go on writing the store.
  if (environment().under_mpirun) cluster::die_with_launcher();
  // MPI only for ranks a launcher started; a process started alone runs serially (the same
  // phases, no MPI calls), without MPI's singleton start-up (cluster::kMpiRankVariables).
  int argc = 0;
  char** argv = nullptr;
  std::optional<cluster::MpiSession> mpi;
  if (environment().started_as_mpi_rank) mpi.emplace(argc, argv, environment().mpi_pml);
  const auto world = mpi ? cluster::Communicator::world() : cluster::Communicator::self_only();
  try {
    return run_compare(cfg, world, std::cout);
  } catch (const cluster::PhaseError& e) {
    // Agreed by every rank (cluster/phase.hpp): rank 0 reports each failing rank's message.
    if (world.is_root()) {
      for (const auto& m : e.messages()) std::cerr << "lineage: error: " << m << "\n";
    }
    return static_cast<int>(e.exit_code());
  } catch (const Error& e) {
    // Outside the phases only collective MPI failures remain: each rank reports its own.
    std::cerr << "lineage: error: " << e.what() << "\n";
    return static_cast<int>(e.exit_code());
  }
}

}  // namespace lineage::pipeline::commands
