// What a starting supervisor does about the previous one's unfinished business: tasks left
// `running` when it died. Their runners are gone (workers die with their supervisor through
// PR_SET_PDEATHSIG) or orphaned (an exec task's process group): orphans are killed, and each task
// is requeued while its retries allow, else marked lost with the reason. Finished results stay.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/segment.h"

namespace taskq {

// `previous_heartbeat_us` is the dead supervisor's last heartbeat (Unix µs): a process that
// started later than shortly after it cannot be one of its runners, whatever its pid (pids are
// reused, and after a reboot with `storage: file` every recorded pid is stale).
// A task in a Slurm job with a known job id is left running: its slurm executor re-attaches.
void RecoverOrphans(Segment& segment, const std::string& self_exe, uint64_t previous_heartbeat_us);

// After the executors started: a Slurm task that none re-attached to (its group no longer runs
// on Slurm) is requeued while its retries allow, else lost.
void LoseUnadoptedSlurmTasks(Segment& segment, pid_t supervisor_pid);

// SIGKILLs the process group of an exec task whose leader pid was read from the segment. Any
// submitter can write that pid, so only a session leader (taskq starts tasks with setsid) that
// runs as this daemon's uid is killed: never kill(-1), never a stranger's group.
bool KillTaskGroup(pid_t leader);

}  // namespace taskq
