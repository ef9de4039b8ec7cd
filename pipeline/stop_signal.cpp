#include "pipeline/stop_signal.hpp"

#include <unistd.h>

#include <cstdio>

namespace lineage::pipeline {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;
struct sigaction g_old_term {};
struct sigaction g_old_usr1 {};
struct sigaction g_old_int {};

extern "C" void on_stop_signal(int sig) {
  // A second Ctrl-C (SIGINT after SIGINT) ends the process at once by the default action, as if
  // no handler were set: for a user who will not wait for the unit, or a rank stuck in MPI's
  // start-up, which never polls the flag. The store resumes from its last durable unit, as after
  // any kill. Slurm's USR1 and then TERM at the limit still only ask for the checkpoint.
  if (sig == SIGINT && g_signal == SIGINT) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, nullptr);
    ::raise(SIGINT);  // blocked while this handler runs: delivered, and fatal, as it returns
    return;
  }
  g_signal = sig;
}

// The SIGBUS message, prepared outside the handler (which may only call write and _exit).
char g_bus_prefix[64] = "lineage: error: ";
char g_bus_files[2][1024] = {};
bool g_bus_installed = false;

void put(const char* s) noexcept {
  std::size_t n = 0;
  while (s[n]) ++n;
  while (n > 0) {
    const auto w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

extern "C" void on_bus_error(int) {
  put(g_bus_prefix);
  put(g_bus_files[0]);
  if (g_bus_files[1][0]) {
    put(" or ");
    put(g_bus_files[1]);
  }
  put(": a model file was truncated while being read (SIGBUS); restore it and rerun with --resume\n");
  ::_exit(3);  // ExitCode::input
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads interrupted by the signal resume; loops poll the flag
  // Set at every call: `compare` installs them before MPI starts and again after, since MPI's
  // libraries (PMIx, UCX) may put handlers of their own in place while starting. The handlers
  // found at the first call are the ones restore_stop_handlers puts back.
  sigaction(SIGTERM, &sa, g_installed ? nullptr : &g_old_term);
  sigaction(SIGUSR1, &sa, g_installed ? nullptr : &g_old_usr1);
  sigaction(SIGINT, &sa, g_installed ? nullptr : &g_old_int);
  g_installed = true;
}

void restore_stop_handlers() {
  if (!g_installed) return;
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
  sigaction(SIGINT, &g_old_int, nullptr);
  g_installed = false;
}

void install_bus_error_handler(int rank) {
  if (g_bus_installed) return;
  std::snprintf(g_bus_prefix, sizeof g_bus_prefix, "lineage: error: rank %d: ", rank);
  struct sigaction sa {};
  sa.sa_handler = on_bus_error;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
  g_bus_installed = true;
}

void set_files_being_read(const std::string& a, const std::string& b) noexcept {
  std::snprintf(g_bus_files[0], sizeof g_bus_files[0], "%s", a.c_str());
  std::snprintf(g_bus_files[1], sizeof g_bus_files[1], "%s", b == a ? "" : b.c_str());
}

bool stop_requested() noexcept { return g_signal != 0; }
int stop_signal_number() noexcept { return static_cast<int>(g_signal); }
void reset_stop_request() noexcept { g_signal = 0; }

}  // namespace lineage::pipeline
