// The `pool` policy: `workers` prestarted processes (forks of the supervisor running WorkerMain)
// that pop tasks from the segment themselves and run cpu/io in-process (no exec per task: this
// is where a pool wins). The
// supervisor only keeps the pool at size: it replaces a worker that died (after handing its
// task to retry or `lost`) and recycles workers that reached max_tasks_per_worker.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/spawn.h"
#include "common/worker_lifecycle.h"
#include "daemon/executor.h"
#include "daemon/state_dir.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {

namespace {

// Restart throttle (s6-style): a worker that dies within this long of its start is restarted
// only after a pause, so a crash loop cannot spin.
constexpr uint64_t kQuickDeathUs = 1000000;

struct WorkerProcess {
  pid_t pid = 0;
  int32_t row = -1;  // its row in the segment's worker table
  uint64_t started_us = 0;
  bool wanted = true;  // false: retired, not to be replaced
  uint64_t restart_after_us = 0;
};

class PoolExecutor : public Executor {
 public:
  PoolExecutor(const ExecutorContext& context, const Options& options)
      : context_(context), options_(options), workers_(options.workers) {}

  void Start() override {
    for (uint32_t i = 0; i < workers_.size(); ++i) SpawnWorker(i);
  }

  void OnWork() override {}  // workers wake themselves on the segment's futex

  bool OnChildExit(pid_t pid, int wait_status, const rusage&) override {
    for (uint32_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].pid != pid) continue;
      HandleExit(i, wait_status);
      return true;
    }
    return false;
  }

  void OnTick() override {
    if (shutting_down_) return;
    const uint64_t now = os().MonotonicUs();
    for (uint32_t i = 0; i < workers_.size(); ++i) {
      WorkerProcess& w = workers_[i];
      if (w.pid == 0 && w.wanted && now >= w.restart_after_us) SpawnWorker(i);
    }
  }

  void BeginShutdown() override {
    shutting_down_ = true;
    SegmentHeader* header = context_.segment->header();
    for (const WorkerProcess& w : workers_) {
      if (w.row >= 0) header->workers[w.row].retire.store(1);
    }
    FutexWakeAll();
  }

  void KillAll() override { KillWorkers(/*spare_keepers=*/false); }
  void KillAllButKeepers() override { KillWorkers(/*spare_keepers=*/true); }

  // Every live worker keeps an exec command (the others have retired by now or run in-process
  // tasks, which cannot outlive the worker).
  bool OnlyKeepersLeft() const override {
    const std::set<pid_t> keepers = Keepers();
    for (const WorkerProcess& w : workers_) {
      if (w.pid != 0 && keepers.count(w.pid) == 0) return false;
    }
    return true;
  }

  // An exec task's command is the worker's child in a group of its own: the signal goes to that
  // group and the worker lives to report the end. A cpu/io task runs inside the worker: its
  // kernel sees the kill mark at its next check and stops, the worker lives too. An exec task
  // whose command is not started yet is killed by its worker as it starts (Segment::SetChild).
  bool Kill(const TaskRecord& running, int signal, bool escalate) override {
    const bool mine = std::any_of(workers_.begin(), workers_.end(), [&](const WorkerProcess& w) {
      return w.pid != 0 && w.pid == running.runner_pid;
    });
    if (!mine) return false;
    if (running.kind != static_cast<uint32_t>(TaskKind::kExec) || running.child_pid <= 0) {
      return true;
    }
    os().SignalGroup(running.child_pid, signal);
    os().SignalGroup(running.child_pid, SIGCONT);  // a paused command must run to act on it
    if (escalate) ArmKillGrace(running.id, running.child_pid);
    return true;
  }

  // An exec task's command group is stopped or continued; a cpu/io kernel sees the mark at its
  // next check. A command not started yet is stopped by its worker as it starts.
  bool Pause(const TaskRecord& running, bool pause) override {
    const bool mine = std::any_of(workers_.begin(), workers_.end(), [&](const WorkerProcess& w) {
      return w.pid != 0 && w.pid == running.runner_pid;
    });
    if (!mine) return false;
    if (running.kind == static_cast<uint32_t>(TaskKind::kExec)) {
      os().SignalGroup(running.child_pid, pause ? SIGSTOP : SIGCONT);
    }
    return true;
  }

  // Marks each running task first, then kills the workers, then the tasks' process groups: a
  // worker that saw its exec child die could otherwise record it as an ordinary failure.
  // `spare_keepers`: the workers that keep an exec command are left to it.
  void KillWorkers(bool spare_keepers) {
    const std::set<pid_t> spared = spare_keepers ? Keepers() : std::set<pid_t>();
    std::vector<pid_t> groups;
    for (auto& [slot, record] : context_.segment->Running()) {
      for (const WorkerProcess& w : workers_) {
        if (w.pid == 0 || record.runner_pid != w.pid || spared.count(w.pid) != 0) continue;
        if (record.child_pid > 0) groups.push_back(record.child_pid);
        TaskState now = context_.segment->RunnerDied(slot, record.id, kKilledAtShutdown, SIGKILL);
        spdlog::warn("task {}: {} -> {}", record.id, kKilledAtShutdown, TaskStateName(now));
      }
    }
    for (const WorkerProcess& w : workers_) {
      if (w.pid != 0 && spared.count(w.pid) == 0) os().SignalProcess(w.pid, SIGKILL);
    }
    for (pid_t group : groups) os().KillTaskGroup(group);
  }

  // The workers running an exec task now.
  std::set<pid_t> Keepers() const {
    std::set<pid_t> keepers;
    for (auto& [slot, record] : context_.segment->Running()) {
      if (record.kind == static_cast<uint32_t>(TaskKind::kExec)) keepers.insert(record.runner_pid);
    }
    return keepers;
  }

  bool Stopped() const override {
    for (const WorkerProcess& w : workers_) {
      if (w.pid != 0) return false;
    }
    return true;
  }

  bool Ready() const override {
    const SegmentHeader* header = context_.segment->header();
    for (const WorkerProcess& w : workers_) {
      if (!w.wanted) continue;  // retiring after a reload shrank the pool
      if (w.pid == 0 || w.row < 0) return false;
      auto state = static_cast<WorkerState>(header->workers[w.row].state.load());
      if (state == WorkerState::kStarting) return false;
    }
    return true;
  }

  // SIGKILL for a killed exec task that outlived kill_grace, if the same command still runs it.
  void ArmKillGrace(uint64_t id, pid_t group) {
    auto timer = std::make_unique<boost::asio::steady_timer>(*context_.io);
    timer->expires_after(std::chrono::milliseconds(options_.kill_grace_ms));
    timer->async_wait([this, id, group,
                       alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired()) return;  // cancelled, or the executor is gone
      kill_graces_.erase(id);
      TaskInfo info;
      if (context_.segment->Get(id, &info) && info.state == TaskState::kRunning &&
          info.record.child_pid == group) {
        os().SignalGroup(group, SIGKILL);
      }
    });
    kill_graces_[id] = std::move(timer);
  }

  uint32_t ProcessCount() const override {
    uint32_t n = 0;
    for (const WorkerProcess& w : workers_) n += w.pid != 0 ? 1 : 0;
    return n;
  }

  // Only the pool size changed: start the missing workers, or retire the newest ones (each
  // finishes the task it runs, then exits; no task is lost or run twice).
  bool ApplyLive(const Options& next) override {
    if (shutting_down_ || next.policy != Policy::kPool) return false;
    Options same = options_;
    same.workers = next.workers;
    same.max_parallel = next.max_parallel;  // a `process` setting
    if (RunnerSettingsDiffer(same, next)) return false;
    const uint32_t before = WantedCount();
    options_ = next;
    if (next.workers > before) {
      spdlog::info("pool grows from {} to {} workers", before, next.workers);
      for (uint32_t n = before; n < next.workers; ++n) {
        workers_.emplace_back();
        SpawnWorker(static_cast<uint32_t>(workers_.size() - 1));
      }
    } else if (next.workers < before) {
      spdlog::info("pool shrinks from {} to {} workers", before, next.workers);
      SegmentHeader* header = context_.segment->header();
      uint32_t surplus = before - next.workers;
      for (size_t i = workers_.size(); i-- > 0 && surplus > 0;) {
        WorkerProcess& w = workers_[i];
        if (!w.wanted) continue;
        w.wanted = false;
        --surplus;
        if (w.pid != 0 && w.row >= 0) {
          header->workers[w.row].retire.store(1);
          spdlog::info("worker {} (pid {}) retires once its current task is done", i, w.pid);
        }
      }
      FutexWakeAll();
      TrimRetired();
    }
    return true;
  }

 private:
  void FutexWakeAll() { context_.segment->WakeWorkers(UINT32_MAX); }

  uint32_t WantedCount() const {
    uint32_t n = 0;
    for (const WorkerProcess& w : workers_) n += w.wanted ? 1 : 0;
    return n;
  }

  // Forgets retired workers that have exited, from the end (indices name workers in the log).
  void TrimRetired() {
    while (!workers_.empty() && !workers_.back().wanted && workers_.back().pid == 0) {
      workers_.pop_back();
    }
  }

  // A free row of the worker table. Rows are shared with the workers of an executor that a
  // reload replaced and that are still finishing their tasks.
  int32_t FindRow(int32_t preferred) {
    SegmentHeader* header = context_.segment->header();
    auto is_free = [header](int32_t r) {
      return header->workers[r].pid.load() == 0 &&
             header->workers[r].state.load() == static_cast<uint32_t>(WorkerState::kEmpty);
    };
    if (preferred >= 0 && is_free(preferred)) return preferred;
    for (int32_t r = 0; r < static_cast<int32_t>(kMaxWorkers); ++r) {
      if (is_free(r)) return r;
    }
    return -1;
  }

  void SpawnWorker(uint32_t index) {
    WorkerProcess& w = workers_[index];
    w.row = FindRow(w.row);
    if (w.row < 0) {
      spdlog::error("worker {}: the worker table ({} rows) is full; retrying in 1 s", index,
                    kMaxWorkers);
      w.restart_after_us = os().MonotonicUs() + kQuickDeathUs;
      return;
    }
    WorkerEntry& row = context_.segment->header()->workers[w.row];
    row.retire.store(0);
    row.current_id.store(0);
    ApplyWorkerEvent(row, WorkerEvent::kSpawn);
    row.generation.fetch_add(1);
    pid_t pid = 0;
    const Status started = os().StartWorker(options_, static_cast<uint32_t>(w.row), context_.group,
                                            context_.supervisor_pid, &pid);
    if (!started.ok()) {
      spdlog::error("worker {}: {}; retrying in 1 s", index, started.message());
      ApplyWorkerEvent(row, WorkerEvent::kSpawnFailed);
      w.pid = 0;
      w.restart_after_us = os().MonotonicUs() + kQuickDeathUs;
      return;
    }
    row.pid.store(pid);
    w.pid = pid;
    w.started_us = os().MonotonicUs();
    spdlog::info("worker {} started (pid {})", index, pid);
  }

  void HandleExit(uint32_t index, int wait_status) {
    WorkerProcess& w = workers_[index];
    const pid_t pid = w.pid;
    w.pid = 0;
    WorkerEntry& row = context_.segment->header()->workers[w.row];
    row.pid.store(0);
    row.current_id.store(0);
    ApplyWorkerEvent(row, WorkerEvent::kReaped);
    const bool clean = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    std::string how = WIFSIGNALED(wait_status)
                          ? fmt::format("killed by {}", SignalName(WTERMSIG(wait_status)))
                          : fmt::format("exit code {}", WEXITSTATUS(wait_status));
    // Whatever the worker was running is now without a runner.
    for (auto [slot, id] : context_.segment->RunningOwnedBy(pid)) {
      TaskInfo info;
      if (context_.segment->Get(id, &info)) os().KillTaskGroup(info.record.child_pid);
      std::string why = shutting_down_ ? std::string(kKilledAtShutdown)
                                       : fmt::format("worker pid {} {}", pid, how);
      TaskState now = context_.segment->RunnerDied(
          slot, id, why, WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
      spdlog::warn("task {}: {} -> {}", id, why, TaskStateName(now));
    }
    if (shutting_down_) {
      spdlog::info("worker {} (pid {}) stopped: {}", index, pid, how);
      return;
    }
    if (!w.wanted) {
      spdlog::info("worker {} (pid {}) retired: {}", index, pid, how);
      TrimRetired();
      return;
    }
    if (clean) {
      spdlog::info("worker {} (pid {}) recycled", index, pid);
      if (w.wanted) SpawnWorker(index);
      return;
    }
    spdlog::warn("worker {} (pid {}) died: {}; replacing it", index, pid, how);
    const uint64_t now = os().MonotonicUs();
    if (now - w.started_us < kQuickDeathUs) {
      w.restart_after_us = now + kQuickDeathUs;  // OnTick restarts it
    } else {
      SpawnWorker(index);
    }
  }

  Os& os() { return *context_.os; }

  ExecutorContext context_;
  Options options_;
  std::vector<WorkerProcess> workers_;
  std::map<uint64_t, std::unique_ptr<boost::asio::steady_timer>> kill_graces_;  // by task id
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // expires with the executor
  bool shutting_down_ = false;
};

}  // namespace

std::unique_ptr<Executor> MakePoolExecutor(const ExecutorContext& context, const Options& options) {
  return std::make_unique<PoolExecutor>(context, options);
}

}  // namespace taskq
