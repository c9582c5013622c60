// A task owns every process it starts. The process that runs an exec task's command (a pool
// worker, or the `process` policy's per-task runner) is a child subreaper: whatever the command
// leaves behind when it exits — a background job, a double-forked daemon that called setsid —
// becomes the runner's child instead of init's, so the runner can find it and end it before the
// task's result is recorded. `leftovers: kill` (the default) ends them; `leftovers: wait` lets
// the task go on until they exit by themselves, within the task's --timeout.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "common/options.h"
#include "common/spawn.h"

namespace taskq {

// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER). False where the kernel refuses:
// leftovers then go to init as before (the runner logs it once).
bool BecomeSubreaper();

// What SettleLeftovers found and did.
struct LeftoverReport {
  uint32_t ended = 0;      // leftover processes reaped after the command
  bool timed_out = false;  // `wait`: the task's deadline came first, so they were killed
  bool killed = false;     // the leftovers were signalled (not left to exit by themselves)
  Usage usage;             // their CPU time (summed) and peak RSS (the largest)
};

// The facts SettleLeftovers asks about while it waits, read from the task's record.
struct LeftoverWatch {
  std::function<uint64_t()> live_deadline;  // the run's deadline as it stands (kNoDeadline)
  std::function<bool()> kill_requested;     // `taskq kill` came
};

// Called by a subreaper runner once the command was reaped: ends every child it still has
// (each leftover, however deep, becomes a direct child when its parent exits). `at_once`: the
// task timed out or was killed, so they get SIGKILL now; otherwise `kill` sends SIGTERM, then
// SIGKILL after `grace_ms`, and `wait` waits for them until the deadline or a kill. Returns at
// once, with nothing to report, when no child is left (one waitpid: the common case).
LeftoverReport SettleLeftovers(Leftovers mode, bool at_once, uint64_t grace_ms,
                               const LeftoverWatch& watch);

}  // namespace taskq
