// Running one claimed task, the same way in every runner: a pool worker (cpu/io in-process, exec
// as a child it waits for) and a per-task process of the `process` policy (cpu/io).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>

#include "common/options.h"
#include "common/segment.h"
#include "common/spawn.h"

namespace taskq {

// The run-time half of the `security:` rules (common/task_policy.h), for a task copied out of
// the segment: what the client checks at submit, and that the recorded submitter uid is the
// uid of the submitting process while it still runs. A refused task is failed with the reason.
Status CheckBeforeRun(const ClaimedTask& task, const Options& resolved);
TaskOutcome RefusedOutcome(const Status& why);

// Runs a cpu or io task in this process. A deadline is enforced with ITIMER_REAL: SIGALRM's
// default action ends the runner, and whoever reaps it records the task as timed_out. `io`
// paths are opened beneath resolved.io_root; logs and default paths use resolved.state_dir
// (never the segment's copy, which any submitter can overwrite).
//
// `mark`, for a pool worker running tasks back to back: the rusage read at the end of its
// previous task serves as this task's start, so a task costs one getrusage instead of two
// (a syscall is dear in a VM: two were a fifth of a trivial task's cost). The task's CPU time
// then includes the worker's bookkeeping between the two (claiming and recording: µs). The
// worker clears the mark when it sleeps or runs anything else.
struct UsageMark {
  rusage at{};
  bool valid = false;
};
TaskOutcome RunBuiltinInProcess(const ClaimedTask& task, const Options& resolved,
                                UsageMark* mark = nullptr);

// The `process` policy's runner for one task: a fork of the (single-threaded) supervisor that
// runs the task and records its result itself, like Python's `multiprocessing.Process` on Linux.
// A cpu or io task runs in it; an exec task's command is its child, which it waits for as a
// pool worker does (RunExecBlocking), as a child subreaper that ends what the command leaves
// behind (daemon/leftovers.h). The child gets a new session, default signal dispositions, no
// inherited descriptors, the configured limits, and dies with the supervisor; it never returns
// into the supervisor's code. Why fork and not a spawned `taskqd` runner: docs/ARCHITECTURE.md,
// "process runners".
Status ForkTaskRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                      pid_t supervisor_pid, pid_t* pid);

// The spawn request for an exec task: cleaned environment, cwd, per-task log files, limits.
SpawnRequest BuildExecRequest(const ClaimedTask& task, const Options& options);

// Starts an exec task and waits for it (pool workers and the `process` policy's runners),
// enforcing its deadline: SIGTERM to its process group, then SIGKILL after kill_grace. Then
// settles the processes it left (`leftovers:`); the caller is a child subreaper.
TaskOutcome RunExecBlocking(Segment& segment, const ClaimedTask& task, const Options& options);

// The outcome of a finished exec child from its wait status and resource usage. A child killed
// by a signal taskq did not send yields kLost (its runner vanished), so retries apply.
TaskOutcome OutcomeFromWaitStatus(int wait_status, const rusage& usage);

// Outcome for an exec task that could not be started at all.
TaskOutcome SpawnFailedOutcome(const Status& why);

}  // namespace taskq
