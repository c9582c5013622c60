// Children forked from the supervisor: the `process` policy's cpu/io runners and the pool
// workers. The supervisor is single-threaded (one Asio loop), so a fork is safe and cheap, and
// the child gets the resolved options as they are in memory (docs/ARCHITECTURE.md, "Where the
// code departs from DESIGN.md").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace taskq {

// Forks and returns the child's pid in the parent (-1 with errno on failure). In the child it
// returns 0 once the child is cut loose from the supervisor's state: it dies with the
// supervisor (PR_SET_PDEATHSIG; it _exits at once if the supervisor is already gone), has
// default signal dispositions and an empty signal mask, no descriptor above 2 (the event loop's,
// the segment lock's), none of systemd's NOTIFY_SOCKET/WATCHDOG_*/LISTEN_* variables, and, with
// `new_session`, a session of its own so that kill(-pid) reaches everything the task starts. The
// child must end with _exit, never return into the supervisor.
pid_t ForkCleanChild(pid_t supervisor_pid, bool new_session);

// True for systemd's service variables (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*): they belong to the
// supervisor, and no child or task gets them, even when `env_allow` names them.
bool IsServiceVariable(std::string_view name);

// The supervisor's environment without the service variables, for the tools it starts (sbatch).
std::vector<std::string> RunnerEnvironment();

}  // namespace taskq
