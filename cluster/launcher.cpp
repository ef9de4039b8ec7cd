#include "cluster/launcher.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

namespace lineage::cluster {
namespace {

// The parent as seen when the process started (before main), to detect a launcher that died
// before the death signal was armed.
const pid_t g_parent_at_start = ::getppid();

}  // namespace

void die_with_launcher() noexcept {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return;  // unsupported: nothing better to do
  if (::getppid() != g_parent_at_start) ::_exit(137);   // orphaned already: as if SIGKILLed
}

}  // namespace lineage::cluster
