// Running one claimed task, the same way in every runner: a pool worker (cpu/io in-process, exec
// as a child it waits for) and a per-task process of the `process` policy (cpu/io).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <string>

#include "common/segment.h"
#include "common/spawn.h"
#include "config/options.h"

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
TaskOutcome RunBuiltinInProcess(const ClaimedTask& task, const Options& resolved);

// The spawn request for an exec task: cleaned environment, cwd, per-task log files, limits.
SpawnRequest BuildExecRequest(const ClaimedTask& task, const Options& options);

// Starts an exec task and waits for it (pool workers), enforcing its deadline: SIGTERM to its
// process group, then SIGKILL after kill_grace.
TaskOutcome RunExecBlocking(Segment& segment, const ClaimedTask& task, const Options& options);

// The outcome of a finished exec child from its wait status and resource usage. A child killed
// by a signal taskq did not send yields kLost (its runner vanished), so retries apply.
TaskOutcome OutcomeFromWaitStatus(int wait_status, const rusage& usage);

// Outcome for an exec task that could not be started at all.
TaskOutcome SpawnFailedOutcome(const Status& why);

}  // namespace taskq
