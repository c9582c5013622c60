#include "daemon/task_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/clock.h"
#include "common/deadline.h"
#include "common/kernels.h"
#include "common/task_policy.h"
#include "daemon/fork_child.h"
#include "daemon/leftovers.h"
#include "daemon/run_as.h"
#include "fmt/format.h"

namespace taskq {
namespace {

// An in-process built-in run's deadline: SIGALRM at the deadline (kNoDeadline disarms).
void SetAlarm(uint64_t deadline_us) {
  itimerval timer{};
  if (deadline_us != kNoDeadline) {
    const uint64_t left = std::max<uint64_t>(MicrosUntil(deadline_us, NowUs()), 1);  // 0 disarms
    timer.it_value.tv_sec = static_cast<time_t>(left / 1000000);
    timer.it_value.tv_usec = static_cast<suseconds_t>(left % 1000000);
  }
  setitimer(ITIMER_REAL, &timer, nullptr);
}

void ApplyUsage(const Usage& u, TaskOutcome* o) {
  o->user_us = u.user_us;
  o->sys_us = u.sys_us;
  o->max_rss_kb = u.max_rss_kb;
  o->read_bytes = u.read_bytes;
  o->write_bytes = u.write_bytes;
  o->vol_ctxsw = u.vol_ctxsw;
  o->invol_ctxsw = u.invol_ctxsw;
}

// Waits until process `pid` (whose pidfd is `pidfd`, or -1 where pidfd_open failed) exits or
// `deadline_us` passes (kNoDeadline = no limit); true when it exited. poll() takes an int of
// milliseconds, so a long deadline is waited in chunks of at most ~24.8 days (PollTimeoutMs).
// Without a pidfd the exit is polled with waitid(WNOWAIT) every few milliseconds, so a
// deadline still holds.
bool WaitExitUntil(pid_t pid, int pidfd, uint64_t deadline_us) {
  for (;;) {
    const uint64_t now = NowUs();
    if (DeadlinePassed(deadline_us, now)) return false;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      const int rc = poll(&p, 1, PollTimeoutMs(deadline_us, now));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
      continue;  // a chunk of a long wait ended, or a signal: look at the clock again
    }
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      return true;
    }
    if (errno == ECHILD) return true;  // nothing left to wait for
    ::usleep(5000);
  }
}

// A `taskq pause` that came between the claim and the spawn found no process to stop: the
// command is stopped here. The second look closes the race with a resume that came meanwhile
// (the daemon clears the mark before it sends SIGCONT, so one of the two continues it).
void StopIfPaused(const ClaimedTask& task, pid_t pid) {
  if (!task.PauseRequested()) return;
  ::kill(-pid, SIGSTOP);
  if (!task.PauseRequested()) ::kill(-pid, SIGCONT);
}

// WaitExitUntil at the run's deadline as it stands: a pause moves it, so when the deadline the
// wait began with passes, the wait goes on until the moved one does (never ending late: a
// deadline seen during a pause is earlier than the one its resume sets).
bool WaitExitUntilLiveDeadline(const ClaimedTask& task, pid_t pid, int pidfd) {
  for (uint64_t deadline = task.record.deadline_us;;) {
    if (WaitExitUntil(pid, pidfd, deadline)) return true;
    const uint64_t now = NowUs();
    deadline = task.LiveDeadline(now);
    if (DeadlinePassed(deadline, now)) return false;
  }
}

// The leftovers' CPU time counts as the task's, and the reason says how many were ended.
void AddLeftovers(const LeftoverReport& left, TaskOutcome* outcome) {
  if (left.ended == 0) return;
  outcome->user_us += left.usage.user_us;
  outcome->sys_us += left.usage.sys_us;
  outcome->max_rss_kb = std::max(outcome->max_rss_kb, left.usage.max_rss_kb);
  if (!left.killed) return;  // `wait`: they exited by themselves
  if (!outcome->reason.empty()) outcome->reason += "; ";
  outcome->reason +=
      fmt::format("{} leftover process{} killed", left.ended, left.ended == 1 ? "" : "es");
}

// A task's second attempt is starting: its first attempt's logs (<id>.out|err) get the name
// <id>.1.out|err as well, so that every attempt has <id>.<attempt>.*. A hard link in the
// daemon's own logs directory (0700), made relative to it; a missing log (the first attempt
// never ran a command) is no error.
void KeepFirstAttemptLogs(const std::string& state_dir, uint64_t id) {
  const int dir =
      ::open((state_dir + "/logs").c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  for (bool is_stderr : {false, true}) {
    ::linkat(dir, LogName(id, 1, is_stderr).c_str(), dir,
             fmt::format("{}.1.{}", id, is_stderr ? "err" : "out").c_str(), 0);
  }
  ::close(dir);
}

}  // namespace

Status CheckBeforeRun(const ClaimedTask& task, const Options& resolved) {
  // The submitter's uid needs no check here: only the daemon's user writes the queue, and it
  // records the uid the kernel vouched for (docs/SECURITY.md).
  return CheckTaskAllowed(task.spec, resolved);
}

TaskOutcome RefusedOutcome(const Status& why) {
  TaskOutcome outcome;
  outcome.state = TaskState::kFailed;
  outcome.exit_code = -1;
  outcome.reason = "refused: " + why.message();
  return outcome;
}

TaskOutcome RunBuiltinInProcess(const ClaimedTask& task, const Options& resolved, UsageMark* mark) {
  TaskOutcome outcome;
  rusage before{}, after{};
  // RUSAGE_THREAD: runners are single-threaded, and RUSAGE_SELF sums over every thread.
  if (mark != nullptr && mark->valid) {
    before = mark->at;
  } else {
    getrusage(RUSAGE_THREAD, &before);
  }
  // No deadline, no timer: two setitimer calls are a third of a trivial task's cost.
  const bool timed = task.record.deadline_us != 0;
  if (timed) SetAlarm(task.record.deadline_us);
  // `taskq kill` of an in-process task: the kernel stops at its next check, the worker lives.
  // `taskq pause`: the kernel waits at its check until resumed or killed, its alarm disarmed
  // meanwhile and set again to the deadline the pause moved.
  const StopCheck stop = [&task, timed] {
    if (task.PauseRequested()) {
      if (timed) SetAlarm(kNoDeadline);
      while (task.PauseRequested() && !task.KillRequested()) ::usleep(20000);
      if (timed) SetAlarm(task.LiveDeadline(NowUs()));
    }
    return task.KillRequested();
  };
  if (task.spec.kind == TaskKind::kCpu) {
    CpuResult r = RunCpuKernel(task.spec.cpu.count, task.spec.cpu.seed, stop);
    outcome.result_checksum = r.checksum;
    outcome.result_count = r.count;
    if (r.stopped) {
      outcome.state = TaskState::kFailed;
      outcome.exit_code = -1;
      outcome.reason = fmt::format("stopped after {} of {} numbers", r.count, task.spec.cpu.count);
    }
  } else {
    std::string relative;
    Status s = IoPathBeneathRoot(task.spec.io.path, resolved.io_root, &relative);
    uint64_t written = 0;
    if (s.ok()) {
      // The default file is opened beneath the state directory, so no symlink (not even io/
      // itself) leads out of it.
      s = relative.empty()
              ? RunIoKernel(resolved.state_dir, fmt::format("io/{}.dat", task.record.id),
                            task.spec.io.bytes, task.spec.io.block, task.spec.io.fsync, &written,
                            stop)
              : RunIoKernel(resolved.io_root, relative, task.spec.io.bytes, task.spec.io.block,
                            task.spec.io.fsync, &written, stop);
    }
    outcome.result_count = written;
    if (!s.ok()) {
      outcome.state = TaskState::kFailed;
      outcome.exit_code = 1;
      outcome.reason = s.message();
    }
  }
  if (timed) SetAlarm(0);
  getrusage(RUSAGE_THREAD, &after);
  if (mark != nullptr) {
    mark->at = after;
    mark->valid = true;
  }
  ApplyUsage(UsageDelta(before, after), &outcome);
  return outcome;
}

Status ForkTaskRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                      pid_t supervisor_pid, pid_t* pid) {
  const pid_t child = ForkCleanChild(supervisor_pid, /*new_session=*/true);
  if (child < 0) return Status::Unavailable(fmt::format("fork: {}", std::strerror(errno)));
  if (child > 0) {
    *pid = child;
    return Status::Ok();
  }
  // The child: only this task's work from here on, and _exit (the supervisor's objects are
  // neither used nor destroyed here).
  segment.SetRunner(task.slot, task.record.id, getpid());  // before a fast task finishes
  TaskOutcome outcome;
  if (task.spec.kind == TaskKind::kExec) {
    // The command gets the limits from Spawn; this runner stays to end what it leaves behind,
    // and outlives the supervisor: it records the result itself, and the next supervisor adopts
    // it (daemon/adopted_runners.h).
    prctl(PR_SET_PDEATHSIG, 0);
    BecomeSubreaper();
    outcome = RunExecBlocking(segment, task, options);
  } else {
    const Status limited = ApplyLimitsToSelf(options.limits);
    outcome = limited.ok() ? RunBuiltin(task, options) : RefusedOutcome(limited);
  }
  segment.Finish(task.slot, task.record.id, outcome);
  _exit(0);
}

SpawnRequest BuildExecRequest(const ClaimedTask& task, const Options& options) {
  const std::string& state_dir = options.state_dir;
  SpawnRequest request;
  // Owner-only: a group member reads the logs of its own tasks through the control socket.
  request.log_mode = 0600;
  request.argv = task.spec.exec.argv;
  request.run_as_uid = RunAsUid(task, options);
  // A task run as its submitter starts in "/" when it names no directory: the state directory
  // is taskqd's.
  request.cwd = !task.spec.exec.cwd.empty() ? task.spec.exec.cwd
                : request.run_as_uid        ? std::string("/")
                                            : state_dir;
  const uint32_t attempt = task.record.attempts;
  if (attempt == 2) KeepFirstAttemptLogs(state_dir, task.record.id);
  request.stdout_path = LogPath(state_dir, task.record.id, false, attempt);
  request.stderr_path = LogPath(state_dir, task.record.id, true, attempt);
  request.limits = options.limits;
  // The task sees only the variables the configuration allows, then its own --env pairs.
  // Never systemd's service variables, even when allowed: a task must not speak for the daemon.
  for (const auto& name : options.env_allow) {
    if (IsServiceVariable(name)) continue;
    if (const char* value = std::getenv(name.c_str())) request.env.push_back(name + "=" + value);
  }
  for (const auto& kv : task.spec.exec.env) request.env.push_back(kv);
  request.env.push_back(fmt::format("TASKQ_TASK_ID={}", task.record.id));
  request.env.push_back(fmt::format("TASKQ_QUEUE={}", options.queue));
  return request;
}

TaskOutcome OutcomeFromWaitStatus(int wait_status, const rusage& usage) {
  TaskOutcome outcome;
  ApplyUsage(UsageFrom(usage), &outcome);
  if (WIFEXITED(wait_status)) {
    outcome.exit_code = WEXITSTATUS(wait_status);
    outcome.state = outcome.exit_code == 0 ? TaskState::kSucceeded : TaskState::kFailed;
    if (outcome.exit_code != 0) outcome.reason = fmt::format("exit code {}", outcome.exit_code);
  } else if (WIFSIGNALED(wait_status) &&
             (WTERMSIG(wait_status) == SIGXCPU || WTERMSIG(wait_status) == SIGXFSZ)) {
    // The kernel enforcing limits.cpu_seconds / limits.output_mb: an answer, not an accident.
    outcome.state = TaskState::kFailed;
    outcome.exit_code = -1;
    outcome.signal = WTERMSIG(wait_status);
    outcome.reason = fmt::format("killed by {}: over limits.{}", SignalName(outcome.signal),
                                 outcome.signal == SIGXCPU ? "cpu_seconds" : "output_mb");
  } else if (WIFSIGNALED(wait_status)) {
    outcome.state = TaskState::kLost;
    outcome.exit_code = -1;
    outcome.signal = WTERMSIG(wait_status);
    outcome.reason = fmt::format("killed by {}", SignalName(outcome.signal));
  }
  return outcome;
}

TaskOutcome SpawnFailedOutcome(const Status& why) {
  TaskOutcome outcome;
  outcome.state = TaskState::kFailed;
  outcome.exit_code = 127;  // the shell's "command not found"
  outcome.reason = why.message();
  return outcome;
}

TaskOutcome RunExecBlocking(Segment& segment, const ClaimedTask& task, const Options& options) {
  SpawnRequest request = BuildExecRequest(task, options);
  pid_t pid = 0;
  Status spawned = Spawn(request, &pid);
  if (!spawned.ok()) return SpawnFailedOutcome(spawned);
  // A `taskq kill` that came between the claim and the spawn found no process to signal.
  if (segment.SetChild(task.slot, task.record.id, pid)) ::kill(-pid, SIGKILL);
  StopIfPaused(task, pid);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  bool timed_out = false;
  if (!WaitExitUntilLiveDeadline(task, pid, pidfd)) {
    timed_out = true;
    segment.MarkTimeoutFired(task.slot, task.record.id);
    ::kill(-pid, SIGTERM);
    if (options.kill_grace_ms == 0 ||
        !WaitExitUntil(pid, pidfd, DeadlineAfter(NowUs(), options.kill_grace_ms))) {
      ::kill(-pid, SIGKILL);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  // Stragglers left in the task's group after a timeout or a `taskq kill`.
  const bool cut_short = timed_out || task.KillRequested();
  if (cut_short) ::kill(-pid, SIGKILL);
  TaskOutcome outcome = OutcomeFromWaitStatus(status, usage);
  const LeftoverReport left = SettleLeftovers(
      options.leftovers, cut_short, options.kill_grace_ms,
      {[&task] { return task.LiveDeadline(NowUs()); }, [&task] { return task.KillRequested(); }});
  if (left.timed_out) {
    timed_out = true;
    segment.MarkTimeoutFired(task.slot, task.record.id);
  }
  if (timed_out) {
    outcome.state = TaskState::kTimedOut;
    outcome.reason = fmt::format("timed out after {} ms; killed", task.record.timeout_ms);
  }
  AddLeftovers(left, &outcome);
  return outcome;
}

}  // namespace taskq
