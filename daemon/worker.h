// The pool worker mode of the taskqd binary (`taskqd --worker N`), started by the supervisor
// with posix_spawn: pops and runs tasks until told to retire. (The `process` policy's runners
// are forks of the supervisor: ForkBuiltinRunner in daemon/task_runner.h.)
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "config/options.h"

namespace taskq {

// Exit codes of a worker: 0 when it retired or was recycled as asked; anything else is a crash.
int WorkerMain(const Options& resolved, uint32_t worker_index, pid_t supervisor_pid,
               uint32_t group = 0);

}  // namespace taskq
