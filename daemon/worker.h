// The two runner modes of the taskqd binary, started by the supervisor with posix_spawn:
//  - a pool worker (`taskqd --worker N`): pops and runs tasks until told to retire;
//  - a per-task runner (`taskqd --run-task SLOT:ID`): runs one claimed cpu/io task and exits.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "config/options.h"

namespace taskq {

// Exit codes of a worker: 0 when it retired or was recycled as asked; anything else is a crash.
int WorkerMain(const Options& resolved, uint32_t worker_index, pid_t supervisor_pid,
               uint32_t group = 0);
int RunTaskMain(const Options& resolved, uint32_t slot, uint64_t id, pid_t supervisor_pid);

}  // namespace taskq
