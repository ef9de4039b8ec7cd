#include "pipeline/store_lock.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "pipeline/environment.hpp"

namespace lineage::pipeline {

std::string store_lock_holder() {
  const auto& env = environment();
  std::string h = "host " + (env.host.empty() ? std::string("?") : env.host) + " pid " + std::to_string(::getpid());
  if (env.slurm_job_id) h += " Slurm job " + *env.slurm_job_id;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32] = {};
  std::tm tm{};
  if (::gmtime_r(&now, &tm) && std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) {
    h += std::string(" since ") + when;
  }
  return h;
}

}  // namespace lineage::pipeline
