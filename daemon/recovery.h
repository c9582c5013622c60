// What a starting supervisor does about the previous one's unfinished business: tasks left
// `running` when it died or stopped. An exec task's runner outlives its supervisor and keeps the
// command (it records the result itself): it is adopted. Other runners are gone (workers die
// with their supervisor through PR_SET_PDEATHSIG) or orphaned: orphans are killed, and each task
// is requeued while its retries allow, else marked lost with the reason. Finished results stay.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/segment.h"

namespace taskq {

// A running exec task whose runner survived its supervisor: where it is, and a pidfd of the
// runner, opened before the runner's start time was checked (so the pid cannot have been reused
// in between).
struct KeptTask {
  uint32_t slot = 0;
  uint64_t id = 0;
  pid_t runner = 0;
  int pidfd = -1;  // owned by whoever holds the KeptTask (AdoptedRunners closes it)
};

// `previous_heartbeat_us` is the dead supervisor's last heartbeat (Unix µs): a process that
// started later than shortly after it cannot be one of its runners, whatever its pid (pids are
// reused, and after a reboot with `storage: file` every recorded pid is stale).
// A task in a Slurm job with a known job id is left running: its slurm executor re-attaches.
// An exec task whose runner (this binary, started before that heartbeat) still runs is left
// running too and returned, for the new supervisor to adopt (daemon/adopted_runners.h).
std::vector<KeptTask> RecoverOrphans(Segment& segment, const std::string& self_exe,
                                     uint64_t previous_heartbeat_us);

// After the executors started: a Slurm task that none re-attached to (its group no longer runs
// on Slurm) is requeued while its retries allow, else lost.
void LoseUnadoptedSlurmTasks(Segment& segment, pid_t supervisor_pid);

// SIGKILLs the process group of an exec task whose leader pid was read from the segment. Any
// submitter can write that pid, so only a session leader (taskq starts tasks with setsid) that
// runs as this daemon's uid is killed: never kill(-1), never a stranger's group.
bool KillTaskGroup(pid_t leader);

}  // namespace taskq
