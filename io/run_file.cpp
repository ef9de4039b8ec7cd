#include "io/run_file.hpp"

#include <yaml-cpp/yaml.h>

#include "core/errors.hpp"
#include "core/sbatch_text.hpp"
#include "io/detail/yaml_reader.hpp"
#include "io/model_source.hpp"

namespace lineage::io {
namespace {

class Reader : public detail::YamlReader {
 public:
  explicit Reader(std::filesystem::path file) : YamlReader(std::move(file)) {}

  template <typename T>
  void get(const YAML::Node& map, const std::string& where, const std::string& key, T& out) const {
    const auto node = map[key];
    if (!node) return;
    try {
      out = node.as<T>();
    } catch (const YAML::Exception&) {
      throw error(join(where, key), "has the wrong type");
    }
  }

  void get_path(const YAML::Node& map, const std::string& where, const std::string& key, std::string& out) const {
    get(map, where, key, out);
    if (!out.empty()) out = resolve(out);
  }

  void get_paths(const YAML::Node& map, const std::string& where, const std::string& key,
                 std::vector<std::string>& out) const {
    const auto node = map[key];
    if (!node) return;
    if (node.IsScalar()) {
      out = {resolve(node.as<std::string>())};
      return;
    }
    if (!node.IsSequence()) throw error(join(where, key), "must be a path or a list of paths");
    out.clear();
    for (const auto& item : node) {
      // A nested list or mapping as an item was yaml-cpp's BadConversion: exit 1 without the file.
      if (!item.IsScalar()) throw error(join(where, key), "must be a path or a list of paths");
      out.push_back(resolve(item.as<std::string>()));
    }
  }

 private:
  [[nodiscard]] std::string resolve(const std::string& p) const {
    const std::filesystem::path path(p);
    if (path.is_absolute() || is_remote_location(p)) return p;
    return (file().parent_path() / path).lexically_normal().string();
  }
};

CaseModel read_case_model(const Reader& r, const YAML::Node& node, const std::string& where) {
  r.reject_unknown_keys(node, where, {"expected_bytes", "expected_params_billions", "note", "repo", "revision"});
  CaseModel m;
  r.get(node, where, "repo", m.repo);
  r.get(node, where, "revision", m.revision);
  if (m.repo.empty()) throw r.error(where + ".repo", "is required (a Hugging Face repo id)");
  if (m.revision.empty()) throw r.error(where + ".revision", "is required (branch, tag or commit to pin)");
  if (node["expected_bytes"]) {
    std::uint64_t b = 0;
    r.get(node, where, "expected_bytes", b);
    m.expected_bytes = b;
  }
  if (node["expected_params_billions"]) {
    double p = 0;
    r.get(node, where, "expected_params_billions", p);
    if (!(p > 0)) throw r.error(where + ".expected_params_billions", "must be positive");
    m.expected_params_billions = p;
  }
  r.get(node, where, "note", m.note);
  return m;
}

std::vector<CaseModel> read_case_models(const Reader& r, const YAML::Node& map, const std::string& key) {
  std::vector<CaseModel> out;
  const auto node = map[key];
  if (!node) return out;
  if (!node.IsSequence()) throw r.error("case." + key, "must be a list of {repo, revision, ...}");
  for (std::size_t i = 0; i < node.size(); ++i)
    out.push_back(read_case_model(r, node[i], "case." + key + "[" + std::to_string(i) + "]"));
  return out;
}

std::optional<CaseInfo> parse_case(const Reader& r, const YAML::Node& root, const RunConfig& cfg) {
  const auto c = root["case"];
  if (!c) return std::nullopt;
  r.reject_unknown_keys(c, "case", {"claim", "controls", "name", "parents", "questions", "suspect"});
  CaseInfo info;
  r.get(c, "case", "name", info.name);
  r.get(c, "case", "claim", info.claim);
  r.get(c, "case", "questions", info.questions);
  if (!c["suspect"]) throw r.error("case.suspect", "is required ({repo, revision})");
  info.suspect = read_case_model(r, c["suspect"], "case.suspect");
  info.parents = read_case_models(r, c, "parents");
  info.controls = read_case_models(r, c, "controls");
  // One published model per local folder, in the same order, so labels (parent2, control3) agree.
  if (info.parents.size() != cfg.parents.size())
    throw r.error("case.parents", "must list one repo per parent (" + std::to_string(cfg.parents.size()) + ")");
  if (info.controls.size() != cfg.controls.size())
    throw r.error("case.controls", "must list one repo per control (" + std::to_string(cfg.controls.size()) + ")");
  return info;
}

}  // namespace

RunConfig read_run_file(const std::filesystem::path& path) {
  const Reader r(path);
  const auto root = r.load("cannot read run file");
  RunConfig cfg;
  r.reject_unknown_keys(root, "",
                        {"baselines", "case", "controls", "families_dir", "family", "null_permutations", "out",
                         "parent", "parents", "quiet", "read_units", "resume", "screen", "slurm", "suspect"});
  r.get_path(root, "", "suspect", cfg.suspect);
  if (cfg.suspect.empty()) throw r.error("suspect", "is required (the model folder to examine)");
  r.get_paths(root, "", "parent", cfg.parents);
  if (root["parents"]) r.get_paths(root, "", "parents", cfg.parents);
  r.get_paths(root, "", "controls", cfg.controls);
  r.get_path(root, "", "out", cfg.out);
  r.get(root, "", "resume", cfg.resume);
  r.get(root, "", "quiet", cfg.quiet);
  r.get(root, "", "null_permutations", cfg.null_permutations);
  if (cfg.null_permutations < 0) throw r.error("null_permutations", "must be >= 0");
  std::string family;
  r.get(root, "", "family", family);
  if (!family.empty()) cfg.family = family;
  r.get_path(root, "", "families_dir", cfg.families_dir);
  r.get(root, "", "baselines", cfg.baselines);
  std::string reads;
  r.get(root, "", "read_units", reads);
  if (!reads.empty()) {
    const auto named = unit_reads_named(reads);
    if (!named) throw r.error("read_units", "must be copy, map or auto, not \"" + reads + "\"");
    cfg.unit_reads = *named;
  }
  bool screen = false;
  r.get(root, "", "screen", screen);
  if (screen) {
    // A screening run computes no null and no baselines: asking for them too is a contradiction.
    if (root["null_permutations"] && cfg.null_permutations > 0) {
      throw r.error("null_permutations", "must be 0 or absent with screen: true (a screening run has no null)");
    }
    if (root["baselines"] && cfg.baselines) {
      throw r.error("baselines", "must be false or absent with screen: true (a screening run has no baselines)");
    }
    apply_screening(cfg);
  }
  if (const auto s = root["slurm"]) {
    r.reject_unknown_keys(s, "slurm",
                          {"account", "cpus_per_task", "extra_sbatch", "mem", "nodes", "partition", "requeue",
                           "signal_seconds_before_limit", "tasks_per_node", "time"});
    auto& out = cfg.slurm;
    r.get(s, "slurm", "nodes", out.nodes);
    r.get(s, "slurm", "tasks_per_node", out.tasks_per_node);
    r.get(s, "slurm", "cpus_per_task", out.cpus_per_task);
    r.get(s, "slurm", "time", out.time);
    r.get(s, "slurm", "partition", out.partition);
    r.get(s, "slurm", "account", out.account);
    r.get(s, "slurm", "mem", out.mem);
    r.get(s, "slurm", "signal_seconds_before_limit", out.signal_seconds_before_limit);
    r.get(s, "slurm", "requeue", out.requeue);
    r.get(s, "slurm", "extra_sbatch", out.extra_sbatch);
    // These values become #SBATCH lines of a shell script: a newline would be a command.
    for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"time", &out.time},
                                     {"partition", &out.partition},
                                     {"account", &out.account},
                                     {"mem", &out.mem}}) {
      if (const auto c = unsafe_sbatch_char(*value)) {
        throw r.error(std::string("slurm.") + key, "holds " + describe_char(*c) + " (refused in an sbatch value)");
      }
    }
    for (std::size_t i = 0; i < out.extra_sbatch.size(); ++i) {
      if (const auto why = unsafe_sbatch_line(out.extra_sbatch[i])) {
        throw r.error("slurm.extra_sbatch[" + std::to_string(i) + "]", *why + " (refused in an sbatch line)");
      }
    }
    if (out.nodes < 1) throw r.error("slurm.nodes", "must be at least 1");
    if (out.tasks_per_node < 1) throw r.error("slurm.tasks_per_node", "must be at least 1");
    if (out.signal_seconds_before_limit < 0) {
      throw r.error("slurm.signal_seconds_before_limit", "must be 0 (no signal) or more");
    }
    // Slurm sends --signal at its first check of time limits (about every 30 s) that finds at
    // most signal + 30 s left: a job no longer than that (in Slurm's whole minutes) is signalled
    // at its first check, every run stops at its first unit, and a requeued one starts again the
    // same way, without end.
    const auto limit = slurm_time_seconds(out.time);
    const auto signal = static_cast<std::int64_t>(out.signal_seconds_before_limit);
    if (limit && signal > 0 && *limit <= signal + 30) {
      throw r.error("slurm.time",
                    "\"" + out.time + "\" (" + std::to_string(*limit) +
                        " s) is at most 30 s more than signal_seconds_before_limit (" + std::to_string(signal) +
                        "): Slurm would signal the job at its first check of time limits, in its first 30 s, "
                        "and every run would checkpoint before computing much; give time a few minutes "
                        "more than the signal");
    }
  }
  (void)parse_case(r, root, cfg);  // checked here too, so compare and submit reject a bad case section
  return cfg;
}

std::optional<CaseInfo> read_case(const std::filesystem::path& path) {
  const auto cfg = read_run_file(path);
  const Reader r(path);
  return parse_case(r, r.load("cannot read run file"), cfg);
}

}  // namespace lineage::io
