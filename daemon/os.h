// What an executor asks of the operating system, behind one interface (leveldb's Env, ninja's
// CommandRunner in build_test.cc): start a task's runner, signal a process group, read the
// clock. Reaping stays with the supervisor, which reports each exit to the executor
// (Executor::OnChildExit), so a test drives exits by calling that itself. SystemOs does the real
// thing; tests/executor_fake_test.cc runs the `process` policy's executor on a fake that records
// the calls and keeps its own clock.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/options.h"
#include "common/segment.h"
#include "common/status.h"

namespace taskq {

class Os {
 public:
  virtual ~Os() = default;
  // Starts the process that runs `task` and records its result (ForkTaskRunner).
  virtual Status StartRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                             pid_t supervisor_pid, pid_t* pid) = 0;
  // Sends `signal` to process group `group`. A group of 0 or less is ignored: kill(0, ...) would
  // signal the supervisor's own group and kill(-1, ...) every process it may signal.
  virtual void SignalGroup(pid_t group, int signal) = 0;
  // Microseconds since the epoch (common/clock.h's NowUs for the real one).
  virtual uint64_t NowUs() = 0;
};

// The real operating system (one instance, stateless).
Os& SystemOs();

}  // namespace taskq
