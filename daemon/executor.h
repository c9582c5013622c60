// Executor is the one small interface behind which the policies live (STYLE.md: ninja's
// CommandRunner). The supervisor owns the event loop and reaps every child; it tells the executor
// what happened, and the executor decides what runs.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "common/options.h"
#include "common/segment.h"
#include "daemon/os.h"

namespace taskq {

// The reason every executor records for a run it had to kill because shutdown_grace ran out.
inline constexpr const char* kKilledAtShutdown = "killed at shutdown after shutdown_grace";

// What both executors need from the supervisor.
struct ExecutorContext {
  boost::asio::io_context* io = nullptr;
  Segment* segment = nullptr;
  std::string self_exe;  // this taskqd binary (the slurm policy finds taskq-run beside it)
  pid_t supervisor_pid = 0;
  uint32_t group = 0;    // the group row whose tasks this executor runs
  Os* os = &SystemOs();  // processes, signals and the clock (a fake in executor tests)
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Starts what the policy needs before tasks can run (pool: the workers).
  virtual void Start() = 0;
  // New tasks may be queued (doorbell or periodic sweep).
  virtual void OnWork() = 0;
  // A child exited; false when it is not this executor's.
  virtual bool OnChildExit(pid_t pid, int wait_status, const rusage& usage) = 0;
  // Once a second: throttled restarts, bookkeeping.
  virtual void OnTick() = 0;
  // Shutdown, first step: start nothing new, let running tasks finish.
  virtual void BeginShutdown() = 0;
  // Shutdown, grace over: kill whatever still runs (whole process groups).
  virtual void KillAll() = 0;
  // True when no child of this executor is left.
  virtual bool Stopped() const = 0;
  // `keep_running`: true when every child left keeps an exec command (it outlives the
  // supervisor, records the result itself, and the next supervisor adopts it).
  virtual bool OnlyKeepersLeft() const { return Stopped(); }
  // `keep_running`, grace over: kills what KillAll would, but the keepers.
  virtual void KillAllButKeepers() { KillAll(); }
  // True once the policy is ready to run tasks (pool: every worker is up).
  virtual bool Ready() const = 0;
  // Number of worker processes (pool) or running task processes (process).
  virtual uint32_t ProcessCount() const = 0;
  // A reload: applies `next` to this executor without replacing it when it can (pool: only the
  // worker count changed; process: same policy) and returns true; false when the supervisor must
  // replace it (the old one then drains: its runners finish their task and exit).
  virtual bool ApplyLive(const Options& next) = 0;
  // `taskq kill` (the segment already marked the run killed): sends `signal` to what runs the
  // task, `running` (a copy of its record), and SIGKILL after kill_grace when `escalate` and it
  // still runs. False when this executor does not run it. Slurm's executors act on the mark.
  virtual bool Kill(const TaskRecord& running, int signal, bool escalate) = 0;
  // `taskq pause` / `resume` (the segment already changed the mark): stops (SIGSTOP) or
  // continues (SIGCONT) an exec task's process group; a built-in kernel waits at its next check
  // on its own. False when this executor does not run the task or cannot pause (Slurm).
  virtual bool Pause(const TaskRecord& running, bool pause) = 0;
};

std::unique_ptr<Executor> MakePoolExecutor(const ExecutorContext& context, const Options& options);
std::unique_ptr<Executor> MakePerTaskExecutor(const ExecutorContext& context,
                                              const Options& options);
// The `slurm` policy: each task is one Slurm batch job (daemon/slurm_executor.cc).
std::unique_ptr<Executor> MakeSlurmExecutor(const ExecutorContext& context, const Options& options);
// The `slurm` policy with `slurm.mode: pilot`: pilot jobs lease many tasks each
// (daemon/slurm_pilots.cc).
std::unique_ptr<Executor> MakeSlurmPilotExecutor(const ExecutorContext& context,
                                                 const Options& options);

}  // namespace taskq
