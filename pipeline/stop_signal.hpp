#pragma once
/// @file stop_signal.hpp
/// SIGTERM / SIGUSR1 / SIGINT set a flag instead of killing the process, so a run under Slurm
/// (`--signal=USR1@120`, or the TERM sent at the time limit) can finish its current unit, make
/// its journal durable and exit with a resumable store. Work loops poll stop_requested(). A
/// second SIGINT (Ctrl-C twice) ends the process at once, by the signal's default action.

#include <csignal>
#include <string>

namespace lineage::pipeline {

/// Installs the handlers, again at every call (over any a library set since). The handlers found
/// at the first call are put back by restore_stop_handlers().
void install_stop_handlers();
void restore_stop_handlers();

/// True once one of the signals arrived; which one is in stop_signal_number().
[[nodiscard]] bool stop_requested() noexcept;
[[nodiscard]] int stop_signal_number() noexcept;
/// Clears the flag (tests).
void reset_stop_request() noexcept;

/// A model file truncated while mapped faults (SIGBUS) on the first page past its new end, after
/// SafetensorsFile::range checked its length. This handler turns that into one clear line naming
/// the files being read ("lineage: error: rank R: FILE ...: ... SIGBUS") and exit code 3 (bad
/// input), instead of a rank dying silently. Installed by `compare` (idempotent).
void install_bus_error_handler(int rank);
/// The files the current unit reads, named by the SIGBUS message (copied; async-signal-safe use).
void set_files_being_read(const std::string& a, const std::string& b) noexcept;

}  // namespace lineage::pipeline
