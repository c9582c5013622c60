// A pool worker: a fork of the supervisor (daemon/pool.cc) that pops and runs its group's tasks
// until told to retire. (The `process` policy's runners are forks too: ForkTaskRunner in
// daemon/task_runner.h.)
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/options.h"

namespace taskq {

// Exit codes of a worker: 0 when it retired or was recycled as asked; anything else is a crash.
// The child of ForkCleanChild runs it and _exits with its result.
int WorkerMain(const Options& resolved, uint32_t worker_index, uint32_t group = 0);

}  // namespace taskq
