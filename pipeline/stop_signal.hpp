#pragma once
/// @file stop_signal.hpp
/// SIGTERM / SIGUSR1 / SIGINT set a flag instead of killing the process, so a run under Slurm
/// (`--signal=USR1@120`, or the TERM sent at the time limit) can finish its current unit, make
/// its journal durable and exit with a resumable store. Work loops poll stop_requested().

#include <csignal>

namespace lineage::pipeline {

/// Installs the handlers (idempotent). The previous handlers are restored by restore().
void install_stop_handlers();
void restore_stop_handlers();

/// True once one of the signals arrived; which one is in stop_signal_number().
[[nodiscard]] bool stop_requested() noexcept;
[[nodiscard]] int stop_signal_number() noexcept;
/// Clears the flag (tests).
void reset_stop_request() noexcept;

}  // namespace lineage::pipeline
