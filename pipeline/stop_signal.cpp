#include "pipeline/stop_signal.hpp"

namespace lineage::pipeline {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;
struct sigaction g_old_term {};
struct sigaction g_old_usr1 {};
struct sigaction g_old_int {};

extern "C" void on_stop_signal(int sig) { g_signal = sig; }

}  // namespace

void install_stop_handlers() {
  if (g_installed) return;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads interrupted by the signal resume; loops poll the flag
  sigaction(SIGTERM, &sa, &g_old_term);
  sigaction(SIGUSR1, &sa, &g_old_usr1);
  sigaction(SIGINT, &sa, &g_old_int);
  g_installed = true;
}

void restore_stop_handlers() {
  if (!g_installed) return;
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGUSR1, &g_old_usr1, nullptr);
  sigaction(SIGINT, &g_old_int, nullptr);
  g_installed = false;
}

bool stop_requested() noexcept { return g_signal != 0; }
int stop_signal_number() noexcept { return static_cast<int>(g_signal); }
void reset_stop_request() noexcept { g_signal = 0; }

}  // namespace lineage::pipeline
