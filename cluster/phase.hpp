#pragma once
/// @file phase.hpp
/// One failure protocol for every phase of a distributed run. A phase body runs on each rank;
/// whatever it throws (lineage::Error, std::filesystem_error, std::bad_alloc, anything) is caught
/// on that rank; then all ranks agree with one allreduce, and if any rank failed, every rank
/// throws the same PhaseError carrying the failing ranks' messages and one exit code. So one
/// rank's exception can never leave the others waiting in a collective (docs/cluster.md,
/// "Failure protocol").
///
/// Rule for callers: a phase body performs no collective operation (every rank might not reach
/// it); communication happens between phases, when every rank is known to be healthy.

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cluster/communicator.hpp"
#include "core/errors.hpp"

namespace lineage::cluster {

/// The agreed failure of a phase, thrown on every rank. what() is the first failing rank's
/// message ("rank R: ..." when there is more than one rank); messages() has one line per failing
/// rank, in rank order.
class PhaseError : public Error {
 public:
  PhaseError(std::string phase, ExitCode code, std::vector<std::string> messages);
  [[nodiscard]] ExitCode exit_code() const noexcept override { return code_; }
  [[nodiscard]] const std::string& phase() const noexcept { return phase_; }
  [[nodiscard]] const std::vector<std::string>& messages() const noexcept { return messages_; }

 private:
  std::string phase_;
  ExitCode code_;
  std::vector<std::string> messages_;
};

/// One rank's outcome of a phase body.
struct PhaseOutcome {
  bool failed = false;
  ExitCode code = ExitCode::ok;
  std::string message;
};

/// Which exit code a phase's failures get. `own`: a lineage::Error keeps its own code, any other
/// exception is an internal error (1). A fixed code (e.g. ExitCode::store for the journal and the
/// store writes) applies to every failure of the phase.
struct PhaseCategory {
  std::optional<ExitCode> fixed;
  static PhaseCategory own() { return {}; }
  static PhaseCategory always(ExitCode code) { return {code}; }
};

/// Turns the exception in flight into an outcome (call from a catch block only).
[[nodiscard]] PhaseOutcome outcome_of_current_exception(PhaseCategory category) noexcept;

/// Collective over `comm`: agrees on the ranks' outcomes; throws PhaseError on every rank if any
/// rank failed (the exit code is the first failing rank's).
void agree(const Communicator& comm, std::string_view phase, const PhaseOutcome& local);

/// Collective over `comm`: runs `body` on this rank under the failure protocol and returns its
/// value. Precondition: `body` performs no collective operation.
template <typename Body>
auto run_phase(const Communicator& comm, std::string_view phase, PhaseCategory category, Body&& body)
    -> std::invoke_result_t<Body&> {
  using Result = std::invoke_result_t<Body&>;
  PhaseOutcome local;
  if constexpr (std::is_void_v<Result>) {
    try {
      body();
    } catch (...) {
      local = outcome_of_current_exception(category);
    }
    agree(comm, phase, local);
  } else {
    std::optional<Result> result;
    try {
      result.emplace(body());
    } catch (...) {
      local = outcome_of_current_exception(category);
    }
    agree(comm, phase, local);
    return std::move(*result);
  }
}

}  // namespace lineage::cluster
