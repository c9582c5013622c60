// Starting child processes, the one way taskq does it: posix_spawn (vfork-like, cheap even from a
// large parent; DESIGN §5), with a clean signal state, a new session (so a timeout can kill the
// whole tree with kill(-pgid)), only fds 0-2 open, and stdout/stderr sent to files.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"

namespace taskq {

// Who a child runs as when it is not taskqd's own user (`run_as: submitter`).
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, from the group database (getgrouplist)
  std::string name;
  std::string home;
};
// The account behind `uid`: primary group, supplementary groups, name and home. kFailed when the
// uid has no account (a deleted user): nothing may run as a uid nobody owns.
Status LookUpIdentity(uint32_t uid, Identity* out);
// Becomes `who` for good: supplementary groups, gid, then uid (real, effective and saved), and
// checks that root cannot be regained. For a child about to run a task.
Status BecomeIdentity(const Identity& who);

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] without a '/' is searched on the daemon's PATH
  std::vector<std::string> env;   // the complete environment of the child
  std::string cwd;                // "" = inherit
  std::string stdout_path;        // "" = inherit
  std::string stderr_path;        // "" = inherit
  // Already open descriptors for stdout/stderr, used instead of the paths when >= 0 (the caller
  // keeps and closes them): the pilot's in-memory files (memfd), which cost no inode.
  int stdout_fd = -1;
  int stderr_fd = -1;
  mode_t log_mode = 0600;  // of stdout_path/stderr_path when they are created
  bool new_session = true;
  // Run as this uid instead of taskqd's user (its account's groups, and HOME, USER, LOGNAME
  // added to env); unset = taskqd's user. The log files are still opened by taskqd.
  std::optional<uint32_t> run_as_uid;
  TaskLimits limits;  // setrlimit() in the child before it execs (hard = soft; cpu: +1 s)
};

// Starts the child; *pid receives its pid. Without limits it is posix_spawn (cheap); with limits
// it is fork, setrlimit in the child, then exec, so the program never runs unlimited. Fails when it
// could not be started (e.g. the executable does not exist), with a message naming argv[0] and the
// reason.
Status Spawn(const SpawnRequest& request, pid_t* pid);

// Resource usage of a finished child or of this process, in taskq's units.
struct Usage {
  uint64_t user_us = 0;
  uint64_t sys_us = 0;
  uint64_t max_rss_kb = 0;
  uint64_t read_bytes = 0;   // block input × 512
  uint64_t write_bytes = 0;  // block output × 512
  uint64_t vol_ctxsw = 0;
  uint64_t invol_ctxsw = 0;
};
Usage UsageFrom(const rusage& ru);
Usage UsageDelta(const rusage& before, const rusage& after);  // max_rss: `after`'s value

// True while `pid` exists and can still run. A zombie is not alive: an orphan that exited stays a
// zombie for good where PID 1 does not reap (many containers), and must not pass for a live
// runner. A process we may not signal (EPERM) counts as alive.
bool ProcessAlive(pid_t pid);
// True while `pid` is stopped by a signal (SIGSTOP, SIGTSTP) or a tracer; false when it runs,
// sleeps, is gone or cannot be read.
bool ProcessStopped(pid_t pid);
// Sets `limits` (hard and soft) on this process; 0 fields are left alone.
Status ApplyLimitsToSelf(const TaskLimits& limits);

// The parent of `pid` from /proc/PID/stat; 0 when that cannot be read (gone, no /proc).
pid_t ProcessParent(pid_t pid);

// When `pid` started, in Unix µs (to a clock tick, 10 ms at HZ=100); UINT64_MAX
// when that cannot be read.
uint64_t ProcessStartUs(pid_t pid);

// Signal number → "SIGKILL"-style name.
std::string SignalName(int signal);

}  // namespace taskq
