// What the executors ask of the operating system, behind one interface (leveldb's Env, ninja's
// CommandRunner in build_test.cc): start a task's runner, a pool worker or a Slurm helper
// command, signal a process or a process group, read the clocks. Reaping stays with the
// supervisor, which reports each exit to the executor (Executor::OnChildExit), so a test drives
// exits by calling that itself. SystemOs does the real thing; tests/executor_fake_test.cc runs the
// `process` and `pool` executors, tests/slurm_fake_test.cc the `slurm` ones, on a fake that
// records the calls and keeps its own clocks (their asio timers still run on the real clock: the
// tests set kill_grace and poll intervals short and run the loop).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/options.h"
#include "common/segment.h"
#include "common/spawn.h"
#include "common/status.h"

namespace taskq {

class Os {
 public:
  virtual ~Os() = default;
  // Starts the process that runs `task` and records its result (ForkTaskRunner).
  virtual Status StartRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                             pid_t supervisor_pid, pid_t* pid) = 0;
  // Starts a pool worker on row `row` of the worker table, serving `group` (WorkerMain in a
  // fork of the supervisor).
  virtual Status StartWorker(const Options& options, uint32_t row, uint32_t group,
                             pid_t supervisor_pid, pid_t* pid) = 0;
  // Starts a helper command (sbatch, squeue, scancel) as `request` says: its output goes to the
  // files or descriptors the request names, and its exit comes back through OnChildExit.
  virtual Status StartHelper(const SpawnRequest& request, pid_t* pid) = 0;
  // Sends `signal` to process `pid` alone (ignored for 1 or less: no group, every process, init).
  virtual void SignalProcess(pid_t pid, int signal) = 0;
  // Sends `signal` to process group `group`. A group of 1 or less is ignored: kill(0, ...) would
  // signal the supervisor's own group, kill(-1, ...) every process it may signal.
  virtual void SignalGroup(pid_t group, int signal) = 0;
  // SIGKILL to the process group a task's command leads, if `leader` still leads its own session
  // and belongs to the daemon's user (recovery.h's KillTaskGroup); false when it did not.
  virtual bool KillTaskGroup(pid_t leader) = 0;
  // Microseconds since the epoch, and on the monotonic clock (common/clock.h for the real one).
  virtual uint64_t NowUs() = 0;
  virtual uint64_t MonotonicUs() = 0;
};

// The real operating system (one instance, stateless).
Os& SystemOs();

}  // namespace taskq
