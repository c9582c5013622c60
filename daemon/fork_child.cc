#include "daemon/fork_child.h"

#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>

namespace taskq {

pid_t ForkCleanChild(pid_t supervisor_pid, bool new_session) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor_pid) _exit(3);  // the supervisor died before the prctl
  if (new_session) setsid();
  syscall(SYS_close_range, 3u, ~0u, 0u);  // mappings stay; the segment lock's fd goes
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // systemd's service variables belong to the supervisor (sd_notify reads them on each call).
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                           "LISTEN_PID", "LISTEN_FDNAMES"}) {
    unsetenv(name);
  }
  return 0;
}

}  // namespace taskq
