#include "daemon/fork_child.h"

#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

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
  // The service variables belong to the supervisor (sd_notify reads them on each call).
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const std::string_view name = kv.substr(0, kv.find('='));
    if (IsServiceVariable(name)) names.emplace_back(name);
  }
  for (const std::string& name : names) unsetenv(name.c_str());
  return 0;
}

bool IsServiceVariable(std::string_view name) {
  return name == "NOTIFY_SOCKET" || name.starts_with("WATCHDOG_") || name.starts_with("LISTEN_");
}

std::vector<std::string> RunnerEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (!IsServiceVariable(kv.substr(0, kv.find('=')))) env.emplace_back(kv);
  }
  return env;
}

}  // namespace taskq
