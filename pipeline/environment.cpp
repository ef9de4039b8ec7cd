#include "pipeline/environment.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>

#include "cluster/launcher.hpp"
#include "cluster/mpi_session.hpp"
#include "core/errors.hpp"

namespace lineage::pipeline {
namespace {

std::optional<std::string> read(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

Environment read_environment() {
  Environment e;
  e.families_dir = read("LINEAGE_FAMILIES");
  e.catalog_dir = read("LINEAGE_CATALOG");
  e.slurm_templates = read("LINEAGE_SLURM_TEMPLATES");
  e.slurm_job_id = read("SLURM_JOB_ID");
  if (const auto d = read("LINEAGE_TEST_UNIT_DELAY_MS"))
    e.test_unit_delay_ms = static_cast<std::uint32_t>(std::atoi(d->c_str()));
  e.hf_endpoint = read("LINEAGE_HF_ENDPOINT");
  e.hf_token = read("HF_TOKEN");
  e.fault = read("LINEAGE_FAULT");
  e.row_block_bytes = read("LINEAGE_ROW_BLOCK_BYTES");
  e.test_reads_trial_min_bytes = read("LINEAGE_TEST_READS_TRIAL_MIN_BYTES");
  e.step_cpu = read("LINEAGE_STEP_CPU") == std::optional<std::string>("1");
  e.test_moves_after_pass = read("LINEAGE_TEST_MOVES_AFTER_PASS");
  e.under_mpirun = read("OMPI_COMM_WORLD_SIZE").has_value();
  e.started_as_mpi_rank = started_as_mpi_rank(read);
  e.mpi_pml = cluster::preferred_pml(read);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) e.host = host;
  return e;
}

}  // namespace

bool started_as_mpi_rank(const std::function<std::optional<std::string>(const char*)>& read) {
  return std::any_of(cluster::kMpiRankVariables.begin(), cluster::kMpiRankVariables.end(),
                     [&](const char* name) { return read(name).has_value(); });
}

const Environment& environment() {
  static const Environment e = read_environment();
  return e;
}

io::RemoteOptions remote_options() {
  io::RemoteOptions o;
  if (environment().hf_endpoint) o.hf_endpoint = *environment().hf_endpoint;
  o.token = environment().hf_token;
  return o;
}

std::uint64_t whole_number_of(const std::string& setting, std::string_view variable, std::uint64_t least) {
  std::uint64_t v = 0;
  const auto* first = setting.data();
  const auto* last = first + setting.size();
  // Digits only: from_chars takes no sign or space, and reports overflow.
  const auto [stop, error] = std::from_chars(first, last, v);
  if (first == last || error != std::errc{} || stop != last || v < least) {
    const auto at_least = least > 0 ? " (at least " + std::to_string(least) + ")" : std::string();
    throw ConfigError(std::string(variable),
                      "expected a whole number of bytes" + at_least + ", digits alone, got '" + setting + "'");
  }
  return v;
}

}  // namespace lineage::pipeline
