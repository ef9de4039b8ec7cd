#include "jobs/sbatch_script.hpp"

#include <filesystem>

#include "core/errors.hpp"
#include "core/sbatch_text.hpp"
#include "io/model_folder.hpp"

namespace lineage::jobs {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& word) {
  if (!word.empty() &&
      word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./=:,@%+") ==
          std::string::npos) {
    return word;
  }
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string render_template(const std::string& text, const std::map<std::string, std::string>& values,
                            const std::string& where) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const auto close = text.find("}}", open);
    if (close == std::string::npos) throw ConfigError(where, "unterminated {{ placeholder");
    const auto name = text.substr(open + 2, close - open - 2);
    const auto it = values.find(name);
    if (it == values.end()) throw ConfigError(where, "unknown placeholder {{" + name + "}}");
    out += text.substr(pos, open - pos) + it->second;
    pos = close + 2;
  }
  return out + text.substr(pos);
}

fs::path mpirun_launcher_of(const std::string& lineage_binary) {
  return fs::path(lineage_binary).parent_path() / "lineage-mpirun";
}

std::string pair_store(const std::string& out, std::size_t i) {
  const fs::path p(out);
  return (p.parent_path() / (p.stem().string() + ".pair" + std::to_string(i) + p.extension().string())).string();
}

namespace {

std::string sbatch_lines(const SlurmSettings& s, const std::string& name, const std::string& log, bool compare,
                         std::optional<std::size_t> array_size) {
  std::vector<std::string> lines{"--job-name=" + name, "--output=" + log, "--open-mode=append", "--time=" + s.time};
  if (compare) {
    lines.push_back("--nodes=" + std::to_string(s.nodes));
    lines.push_back("--ntasks-per-node=" + std::to_string(s.tasks_per_node));
    lines.push_back("--cpus-per-task=" + std::to_string(s.cpus_per_task));
    // Ranks checkpoint on SIGUSR1 this many seconds before the limit (all job steps get it).
    if (s.signal_seconds_before_limit > 0)
      lines.push_back("--signal=USR1@" + std::to_string(s.signal_seconds_before_limit));
    lines.push_back(s.requeue ? "--requeue" : "--no-requeue");
    if (array_size) lines.push_back("--array=0-" + std::to_string(*array_size - 1));
  } else {
    lines.push_back("--ntasks=1");
  }
  if (!s.partition.empty()) lines.push_back("--partition=" + s.partition);
  if (!s.account.empty()) lines.push_back("--account=" + s.account);
  if (!s.mem.empty()) lines.push_back("--mem=" + s.mem);
  // Every line is checked again here, whatever built the settings: a newline in a value would
  // be a command line of the script.
  std::string text;
  for (const auto& l : lines) {
    if (const auto why = unsafe_sbatch_line(l)) throw ConfigError("slurm", "#SBATCH " + l + ": " + *why);
    text += "#SBATCH " + l + "\n";
  }
  for (const auto& l : s.extra_sbatch) {
    if (const auto why = unsafe_sbatch_line(l)) throw ConfigError("slurm.extra_sbatch", l + ": " + *why);
    text += (l.rfind("#SBATCH", 0) == 0 ? l : "#SBATCH " + l) + "\n";
  }
  text.pop_back();
  return text;
}

}  // namespace

SubmitPlan make_submit_plan(const RunConfig& cfg, const std::string& run_file, const SubmitOptions& options) {
  SubmitPlan plan;
  plan.pairs = cfg.parents.size() + cfg.controls.size();
  if (plan.pairs == 0) throw ConfigError(run_file, "the run names no parent or control");
  const bool array = plan.pairs > 1;
  const auto out = fs::absolute(cfg.out).lexically_normal().string();
  const auto stem = fs::path(out).stem().string();
  const auto dir = fs::path(out).parent_path();
  std::string launch;
  if (options.launcher == "srun") {
    launch = "srun --mpi=pmix";  // Debian's Open MPI speaks PMIx only (pmi2 fails)
  } else if (options.launcher == "mpirun") {
    // Not mpirun itself: it exits 1 on SIGTERM (scancel, a preemption) whatever the ranks do.
    launch = shell_quote(mpirun_launcher_of(options.lineage_binary).string()) + " --allow-run-as-root";
  } else {
    throw UsageError("submit: --launcher must be srun or mpirun");
  }
  const auto compare_template = io::read_regular_file(options.template_dir / "compare.sbatch.in");
  std::map<std::string, std::string> v{
      {"run_file", shell_quote(run_file)},
      {"lineage", shell_quote(options.lineage_binary)},
      {"launch", launch},
      {"requeue", cfg.slurm.requeue ? "yes" : "no"},
  };
  if (array) {
    for (std::size_t i = 0; i < plan.pairs; ++i) plan.stores.push_back(pair_store(out, i));
    // The same name as pair_store(), with the task id filled in by the shell.
    v["sbatch_lines"] =
        sbatch_lines(cfg.slurm, "lineage-" + stem, (dir / (stem + ".slurm-%A_%a.out")).string(), true, plan.pairs);
    v["pair_setup"] = "out=" + shell_quote((dir / (stem + ".pair")).string()) + "\"${SLURM_ARRAY_TASK_ID}\"" +
                      shell_quote(fs::path(out).extension().string());
    v["pair_option"] = "--pair \"$SLURM_ARRAY_TASK_ID\"";
  } else {
    plan.stores.push_back(out);
    v["sbatch_lines"] =
        sbatch_lines(cfg.slurm, "lineage-" + stem, (dir / (stem + ".slurm-%j.out")).string(), true, std::nullopt);
    v["pair_setup"] = "out=" + shell_quote(out);
    v["pair_option"] = "";
  }
  plan.compare_script = render_template(compare_template, v, (options.template_dir / "compare.sbatch.in").string());
  if (array) {
    std::string stores;
    for (const auto& s : plan.stores) stores += (stores.empty() ? "" : " ") + shell_quote(s);
    const std::map<std::string, std::string> a{
        {"sbatch_lines", sbatch_lines(cfg.slurm, "lineage-" + stem + "-merge",
                                      (dir / (stem + ".slurm-%j.out")).string(), false, std::nullopt)},
        {"run_file", shell_quote(run_file)},
        {"lineage", shell_quote(options.lineage_binary)},
        {"stores", stores},
        {"out", shell_quote(out)}};
    plan.aggregate_script = render_template(io::read_regular_file(options.template_dir / "aggregate.sbatch.in"), a,
                                            (options.template_dir / "aggregate.sbatch.in").string());
  }
  return plan;
}

}  // namespace lineage::jobs
