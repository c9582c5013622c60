#include "daemon/worker.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/segment.h"
#include "common/shm_sync.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

// A runner must never outlive its supervisor: the kernel kills it when the supervisor dies.
bool TieLifeToSupervisor(pid_t supervisor_pid) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  return getppid() == supervisor_pid;  // it may have died before the prctl
}

constexpr int64_t kIdleCheckUs = 1000000;  // an idle worker rechecks retire once a second

}  // namespace

int WorkerMain(const Options& resolved, uint32_t worker_index, pid_t supervisor_pid,
               uint32_t group) {
  if (!TieLifeToSupervisor(supervisor_pid)) return 0;
  std::unique_ptr<Segment> segment;
  Status attached = Segment::Attach(resolved, &segment);
  if (!attached.ok() || worker_index >= kMaxWorkers) {
    std::fprintf(stderr, "taskqd worker %u: %s\n", worker_index, attached.message().c_str());
    return 3;
  }
  SegmentHeader* header = segment->header();
  WorkerEntry& me = header->workers[worker_index];
  const int32_t my_pid = getpid();
  uint64_t done = 0;
  me.pid.store(my_pid);
  me.state.store(static_cast<uint32_t>(WorkerState::kIdle));
  for (;;) {
    if (me.retire.load(std::memory_order_acquire) != 0) break;
    uint32_t seen = header->work_seq.load(std::memory_order_acquire);
    ClaimedTask task;
    if (segment->Pop(my_pid, &task, group)) {
      me.current_id.store(task.record.id, std::memory_order_relaxed);
      me.state.store(static_cast<uint32_t>(WorkerState::kBusy), std::memory_order_relaxed);
      spdlog::debug("task {} ({}) started in worker {} (pid {})", task.record.id,
                    TaskKindName(task.spec.kind), worker_index, my_pid);
      const Status allowed = CheckBeforeRun(task, resolved);
      if (!allowed.ok()) spdlog::warn("task {} refused: {}", task.record.id, allowed.message());
      TaskOutcome outcome = !allowed.ok() ? RefusedOutcome(allowed)
                            : task.spec.kind == TaskKind::kExec
                                ? RunExecBlocking(*segment, task, resolved)
                                : RunBuiltinInProcess(task, resolved);
      segment->Finish(task.slot, task.record.id, outcome);
      if (spdlog::should_log(spdlog::level::debug)) {  // the arguments cost even when off
        spdlog::debug("task {} ended in worker {}: {}{}{}", task.record.id, worker_index,
                      TaskStateName(outcome.state),
                      outcome.signal != 0 ? fmt::format(", signal {}", outcome.signal)
                                          : fmt::format(", exit {}", outcome.exit_code),
                      outcome.reason.empty() ? "" : ": " + outcome.reason);
      }
      me.current_id.store(0, std::memory_order_relaxed);
      me.tasks_done.fetch_add(1, std::memory_order_relaxed);
      me.state.store(static_cast<uint32_t>(WorkerState::kIdle), std::memory_order_relaxed);
      if (resolved.max_tasks_per_worker != 0 && ++done >= resolved.max_tasks_per_worker) break;
      continue;
    }
    header->idle_workers.fetch_add(1, std::memory_order_acq_rel);
    FutexWait(&header->work_seq, seen, kIdleCheckUs);
    header->idle_workers.fetch_sub(1, std::memory_order_acq_rel);
  }
  me.state.store(static_cast<uint32_t>(WorkerState::kExiting));
  return 0;
}

int RunTaskMain(const Options& resolved, uint32_t slot, uint64_t id, pid_t supervisor_pid) {
  if (!TieLifeToSupervisor(supervisor_pid)) return 3;
  std::unique_ptr<Segment> segment;
  Status attached = Segment::Attach(resolved, &segment);
  if (!attached.ok() || slot >= segment->capacity()) {
    std::fprintf(stderr, "taskqd runner: %s\n", attached.message().c_str());
    return 3;
  }
  TaskInfo info;
  if (!segment->Get(id, &info) || info.state != TaskState::kRunning || !info.spec_valid ||
      info.spec.kind == TaskKind::kExec) {
    std::fprintf(stderr, "taskqd runner: task %llu is not a running cpu/io task\n",
                 static_cast<unsigned long long>(id));
    return 3;
  }
  ClaimedTask task;
  task.slot = slot;
  task.record = info.record;
  task.spec = info.spec;
  // Checked again here (the supervisor checked before spawning): the record may have changed.
  Status allowed = CheckBeforeRun(task, resolved);
  if (allowed.ok()) allowed = ApplyLimitsToSelf(resolved.limits);
  TaskOutcome outcome =
      allowed.ok() ? RunBuiltinInProcess(task, resolved) : RefusedOutcome(allowed);
  segment->Finish(slot, id, outcome);
  return 0;
}

}  // namespace taskq
