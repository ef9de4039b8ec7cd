#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "io/atomic_file.hpp"
#include "io/family_file.hpp"
#include "io/run_file.hpp"
#include "jobs/preflight.hpp"
#include "jobs/sbatch_script.hpp"
#include "pipeline/commands/commands.hpp"
#include "pipeline/commands/parse_options.hpp"
#include "pipeline/data_dirs.hpp"

namespace lineage::pipeline::commands {
namespace {

namespace fs = std::filesystem;

/// Runs `command` and returns its standard output; a nonzero exit is a ClusterError with it.
std::string run_command(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) throw ClusterError("cannot start: " + command);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) output += buf;
  const int status = ::pclose(p);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (status != 0) throw ClusterError(command + " failed: " + output);
  return output;
}

std::string job_id_of(const std::string& parsable) {
  // sbatch --parsable prints "jobid" or "jobid;cluster".
  auto id = parsable.substr(0, parsable.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw ClusterError("sbatch printed no job id: " + parsable);
  }
  return id;
}

}  // namespace

int submit(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  CommandLine command_line(
      "submit",
      "lineage submit RUN.yaml [--dry-run] [--launcher srun|mpirun]\n\n"
      "Checks every input first (headers, index, configs, output folder, disk), then writes the sbatch script(s)\n"
      "from slurm/*.sbatch.in next to the store and submits them: one job for one pair, or a job array (one task\n"
      "and store per parent/control) followed by a merge-and-verdict job (--dependency=afterok).\n\noptions",
      "exit codes: 0 submitted, 2 usage, 3 an input fails the pre-flight check, 4 bad run file,\n"
      "5 output not writable or another run's store, 6 sbatch failed\n");
  command_line.options()("dry-run", "print the scripts; submit nothing")(
      "launcher", po::value<std::string>()->default_value("srun"),
      "start ranks with srun (--mpi=pmix) or mpirun (through lineage-mpirun, which checkpoints on SIGTERM)")(
      "templates", po::value<std::string>(), "template folder (default $LINEAGE_SLURM_TEMPLATES or slurm/)");
  command_line.hidden()("run", po::value<std::string>());
  const auto parsed = command_line.parse(args, {{"run", 1}});
  if (!parsed) return 0;  // --help
  const auto& vm = *parsed;
  if (!vm.count("run")) throw UsageError("submit: RUN.yaml is required");
  const auto run_file = fs::absolute(vm["run"].as<std::string>()).lexically_normal().string();
  auto cfg = io::read_run_file(run_file);
  cfg.out = fs::absolute(cfg.out).lexically_normal().string();
  jobs::SubmitOptions options;
  options.lineage_binary = fs::read_symlink("/proc/self/exe").string();
  options.template_dir =
      vm.count("templates") ? fs::path(vm["templates"].as<std::string>()) : default_slurm_template_dir();
  options.launcher = vm["launcher"].as<std::string>();
  if (options.launcher == "mpirun" && ::access(jobs::mpirun_launcher_of(options.lineage_binary).c_str(), X_OK) != 0) {
    throw ClusterError("submit --launcher mpirun: " + jobs::mpirun_launcher_of(options.lineage_binary).string() +
                       " is missing (it is installed beside lineage; the build folder has one too)");
  }
  const auto plan = jobs::make_submit_plan(cfg, run_file, options);

  const auto registry = io::load_family_registry(families_dir_of(cfg.families_dir));
  const auto check = jobs::preflight(cfg, registry, plan.stores);
  if (!check.ok()) {
    for (const auto& p : check.problems) std::cerr << "pre-flight: " << p << "\n";
    const auto what =
        "pre-flight check failed (" + std::to_string(check.problems.size()) + " problem(s)); nothing submitted";
    if (check.only_output_problems()) throw StoreError(run_file + ": " + what);
    throw InputError(run_file, what);
  }
  std::cout << "pre-flight: " << check.models << " models, " << check.units << " units, "
            << check.bytes_to_read / 1000000 << " MB to read, store about " << (check.estimated_store_bytes >> 20)
            << " MiB" << (plan.stores.size() > 1 ? " each" : "") << ", " << (check.free_bytes >> 20) << " MiB free"
            << (check.resumes_existing ? "; an existing store of this run will be resumed" : "") << "\n";
  for (const auto& note : check.notes) std::cout << "pre-flight: note: " << note << "\n";

  const auto compare_path = fs::path(cfg.out).string() + ".compare.sbatch";
  const auto merge_path = fs::path(cfg.out).string() + ".merge.sbatch";
  if (vm.count("dry-run")) {
    std::cout << "# " << compare_path << "\n" << plan.compare_script;
    if (plan.aggregate_script) {
      std::cout << "\n# " << merge_path << " (sbatch --dependency=afterok:<array job>)\n" << *plan.aggregate_script;
    }
    return 0;
  }
  io::write_text_file(compare_path, plan.compare_script);
  const auto job = job_id_of(run_command("sbatch --parsable " + jobs::shell_quote(compare_path)));
  std::cout << (plan.pairs > 1 ? "submitted job array " : "submitted job ") << job
            << (plan.pairs > 1 ? " (" + std::to_string(plan.pairs) + " pairs)" : std::string()) << "\n";
  if (plan.aggregate_script) {
    io::write_text_file(merge_path, *plan.aggregate_script);
    const auto merge =
        job_id_of(run_command("sbatch --parsable --dependency=afterok:" + job + " " + jobs::shell_quote(merge_path)));
    std::cout << "submitted merge job " << merge << " (after " << job << ")\n";
  }
  return 0;
}

}  // namespace lineage::pipeline::commands
