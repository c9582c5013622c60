#include "daemon/worker.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/segment.h"
#include "common/shm_sync.h"
#include "common/worker_lifecycle.h"
#include "daemon/leftovers.h"
#include "daemon/run_as.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

constexpr int64_t kIdleCheckUs = 1000000;  // an idle worker rechecks retire once a second

// A worker dies with its supervisor (PR_SET_PDEATHSIG), except while it keeps an exec command:
// then it goes on waiting for the command, records its result and exits, so the task survives a
// supervisor restart (the next supervisor adopts it: daemon/adopted_runners.h). An in-process
// cpu/io task cannot outlive the worker's death, and is requeued or lost as before.
volatile sig_atomic_t g_keeping_exec = 0;
volatile sig_atomic_t g_orphaned = 0;

void OnSupervisorGone(int) {
  if (g_keeping_exec == 0) _exit(0);
  g_orphaned = 1;
}

// The death signal of a worker whose supervisor dies: caught, so that a keeper can go on.
constexpr int kSupervisorGoneSignal = SIGUSR1;

}  // namespace

int WorkerMain(const Options& resolved, uint32_t worker_index, uint32_t group) {
  std::unique_ptr<Segment> segment;
  Status attached = Segment::Attach(resolved, &segment);
  if (!attached.ok() || worker_index >= kMaxWorkers) {
    std::fprintf(stderr, "taskqd worker %u: %s\n", worker_index, attached.message().c_str());
    return 3;
  }
  SegmentHeader* header = segment->header();
  WorkerEntry& me = header->workers[worker_index];
  const int32_t my_pid = getpid();
  const pid_t supervisor = getppid();
  struct sigaction gone {};
  gone.sa_handler = OnSupervisorGone;
  sigaction(kSupervisorGoneSignal, &gone, nullptr);
  prctl(PR_SET_PDEATHSIG, kSupervisorGoneSignal);
  if (getppid() != supervisor) return 0;  // it died before the prctl
  uint64_t done = 0;
  UsageMark usage_mark;  // rusage at the end of the previous task (one getrusage per task)
  // What an exec command leaves behind becomes this worker's child, ended after each task.
  if (!BecomeSubreaper())
    spdlog::warn("worker {}: not a child subreaper: {}", worker_index, std::strerror(errno));
  me.pid.store(my_pid);
  ApplyWorkerEvent(me, WorkerEvent::kAttached);
  ClaimedTask task, next;
  bool have_task = false;  // claimed by the previous step (CompleteAndPop)
  for (;;) {
    if (!have_task && me.retire.load(std::memory_order_acquire) != 0) break;
    const uint32_t seen = header->work_seq.load(std::memory_order_acquire);
    if (!have_task) have_task = segment->Pop(my_pid, &task, group);
    if (!have_task) {
      usage_mark.valid = false;  // the sleep is not the next task's
      header->idle_workers.fetch_add(1, std::memory_order_acq_rel);
      FutexWait(&header->work_seq, seen, kIdleCheckUs);
      header->idle_workers.fetch_sub(1, std::memory_order_acq_rel);
      continue;
    }
    me.current_id.store(task.record.id, std::memory_order_relaxed);
    ApplyWorkerEvent(me, WorkerEvent::kClaim, std::memory_order_relaxed);
    spdlog::debug("task {} ({}) started in worker {} (pid {})", task.record.id,
                  TaskKindName(task.spec.kind), worker_index, my_pid);
    const Status allowed = CheckBeforeRun(task, resolved);
    if (!allowed.ok() || task.spec.kind == TaskKind::kExec) usage_mark.valid = false;
    if (!allowed.ok()) spdlog::warn("task {} refused: {}", task.record.id, allowed.message());
    g_keeping_exec = allowed.ok() && task.spec.kind == TaskKind::kExec;
    const TaskOutcome outcome = !allowed.ok() ? RefusedOutcome(allowed)
                                : task.spec.kind == TaskKind::kExec
                                    ? RunExecBlocking(*segment, task, resolved)
                                    : RunBuiltin(task, resolved, &usage_mark);
    if (g_orphaned != 0) {
      // The supervisor died while the command ran: record its result and go, leaving the worker
      // table (whose row a new supervisor may have given to a new worker) alone.
      segment->Finish(task.slot, task.record.id, outcome);
      _exit(0);
    }
    if (spdlog::should_log(spdlog::level::debug)) {  // the arguments cost even when off
      spdlog::debug("task {} ended in worker {}: {}{}{}", task.record.id, worker_index,
                    TaskStateName(outcome.state),
                    outcome.signal != 0 ? fmt::format(", signal {}", outcome.signal)
                                        : fmt::format(", exit {}", outcome.exit_code),
                    outcome.reason.empty() ? "" : ": " + outcome.reason);
    }
    me.tasks_done.fetch_add(1, std::memory_order_relaxed);
    const bool last =
        (resolved.max_tasks_per_worker != 0 && ++done >= resolved.max_tasks_per_worker) ||
        me.retire.load(std::memory_order_acquire) != 0;
    if (last) {
      segment->Finish(task.slot, task.record.id, outcome);
      g_keeping_exec = 0;
      if (g_orphaned != 0) _exit(0);
      break;
    }
    // The end of this task and the claim of the next under one lock.
    have_task = segment->CompleteAndPop(task.slot, task.record.id, outcome, my_pid, &next, group);
    if (have_task) std::swap(task, next);
    g_keeping_exec = 0;
    // Orphaned in the instant the result was recorded: the next task, if one was claimed, is
    // requeued or lost by the next supervisor as if this worker had died between two tasks.
    if (g_orphaned != 0) _exit(0);
    me.current_id.store(have_task ? task.record.id : 0, std::memory_order_relaxed);
    if (!have_task) ApplyWorkerEvent(me, WorkerEvent::kIdle, std::memory_order_relaxed);
  }
  ApplyWorkerEvent(me, WorkerEvent::kRetire);
  return 0;
}

}  // namespace taskq
