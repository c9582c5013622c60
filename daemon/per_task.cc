// The `process` policy: the supervisor pops each task itself and starts a fresh process for it,
// a fork of the supervisor that runs the task and records its result (`cpu`/`io`: in that
// process; `exec`: as the command's parent, which it waits for and whose leftover processes it
// ends, as a pool worker does), at most `max_parallel` at once (0 = unbounded, as in the
// tutorial). A runner that dies before recording comes back through SIGCHLD as RunnerDied.
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>

#include "common/deadline.h"
#include "common/spawn.h"
#include "daemon/executor.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

struct TaskProcess {
  uint32_t slot = 0;
  uint64_t id = 0;
  TaskKind kind = TaskKind::kCpu;
  uint64_t timeout_ms = 0;
  bool terminated = false;  // the deadline passed or `taskq kill`: the group gets SIGKILL at exit
  std::unique_ptr<boost::asio::steady_timer> deadline;
  std::unique_ptr<boost::asio::steady_timer> kill_grace;  // `taskq kill`: SIGKILL when it ends
};

class PerTaskExecutor : public Executor {
 public:
  PerTaskExecutor(const ExecutorContext& context, const Options& options)
      : context_(context), options_(options) {}

  void Start() override { OnWork(); }

  // Starts queued tasks while there is room, kStartsPerTurn at a time: the rest are started from
  // a posted continuation, so the loop's tick, reaping and control requests run in between (a
  // thousand forks in one handler kept the heartbeat still for seconds under ASan).
  void OnWork() override {
    for (size_t started = 0; !shutting_down_ && HasRoom(); ++started) {
      if (started == kStartsPerTurn) {
        if (!continuation_posted_) {
          continuation_posted_ = true;
          // The executor may be drained and freed (a reload) before the continuation runs.
          boost::asio::post(*context_.io, [this, alive = std::weak_ptr<char>(alive_)] {
            if (alive.expired()) return;
            continuation_posted_ = false;
            OnWork();
          });
        }
        return;
      }
      ClaimedTask task;
      if (!context_.segment->Pop(context_.supervisor_pid, &task, context_.group)) break;
      StartTask(task);
    }
  }

  bool OnChildExit(pid_t pid, int wait_status,
                   const rusage& /*usage: the runner records its own*/) override {
    auto it = children_.find(pid);
    if (it == children_.end()) return false;
    TaskProcess& p = it->second;
    if (p.deadline) p.deadline->cancel();
    if (p.kill_grace) p.kill_grace->cancel();
    // A timed-out task ends with its whole group, as under the pool: a child that ignored the
    // SIGTERM must not outlive its leader (the group's id stays reserved while it has members).
    if (p.terminated) os().SignalGroup(pid, SIGKILL);
    // The runner records its own result; if it died first, the task is still running.
    std::string why =
        WIFSIGNALED(wait_status)
            ? fmt::format("runner pid {} killed by {}", pid, SignalName(WTERMSIG(wait_status)))
            : fmt::format("runner pid {} exited with code {} before recording a result", pid,
                          WEXITSTATUS(wait_status));
    if (shutting_down_) why = kKilledAtShutdown;
    context_.segment->RunnerDied(p.slot, p.id, why,
                                 WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
    if (spdlog::should_log(spdlog::level::debug)) {
      TaskInfo info;
      const bool known = context_.segment->Get(p.id, &info);
      spdlog::debug("task {} ended: process {} {}; task {}", p.id, pid,
                    WIFSIGNALED(wait_status)
                        ? fmt::format("killed by {}", SignalName(WTERMSIG(wait_status)))
                        : fmt::format("exited with code {}", WEXITSTATUS(wait_status)),
                    known ? TaskStateName(info.state) : "gone");
    }
    children_.erase(it);
    OnWork();
    return true;
  }

  void OnTick() override { OnWork(); }

  void BeginShutdown() override { shutting_down_ = true; }

  void KillAll() override {
    for (auto& [pid, p] : children_) {
      // The runner first, so that it records nothing: its task is recorded killed at shutdown.
      const pid_t command = p.kind == TaskKind::kExec ? CommandGroup(p.id) : 0;
      os().SignalGroup(pid, SIGKILL);
      os().SignalGroup(command, SIGKILL);  // 0 (none yet) is skipped
    }
  }

  bool Stopped() const override { return children_.empty(); }

  bool OnlyKeepersLeft() const override {
    for (const auto& [pid, p] : children_) {
      if (p.kind != TaskKind::kExec) return false;
    }
    return true;
  }

  void KillAllButKeepers() override {
    for (auto& [pid, p] : children_) {
      if (p.kind != TaskKind::kExec) os().SignalGroup(pid, SIGKILL);
    }
  }
  bool Ready() const override { return true; }
  uint32_t ProcessCount() const override { return static_cast<uint32_t>(children_.size()); }

  bool Pause(const TaskRecord& running, bool pause) override {
    for (auto& [pid, p] : children_) {
      if (p.id != running.id) continue;
      // Before the runner spawned the command it stops it itself (StopIfPaused).
      if (p.kind == TaskKind::kExec) os().SignalGroup(running.child_pid, pause ? SIGSTOP : SIGCONT);
      return true;
    }
    return false;
  }

  bool Kill(const TaskRecord& running, int signal, bool escalate) override {
    for (auto& [pid, p] : children_) {
      if (p.id != running.id) continue;
      // An exec task's command has its own group under the runner (a command not spawned yet is
      // killed by the runner when it sees the mark); a cpu/io runner is the task itself.
      const pid_t group = p.kind == TaskKind::kExec ? running.child_pid : pid;
      if (group <= 0) return true;
      os().SignalGroup(group, signal);
      os().SignalGroup(group, SIGCONT);  // a paused task must run to act on the signal
      p.terminated = p.kind != TaskKind::kExec;
      if (escalate) {
        p.kill_grace = std::make_unique<boost::asio::steady_timer>(*context_.io);
        p.kill_grace->expires_after(std::chrono::milliseconds(options_.kill_grace_ms));
        // A handler already queued when the child is reaped still runs: check it is ours.
        p.kill_grace->async_wait(
            [this, pid = pid, group, id = running.id,
             alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
              if (ec || alive.expired() || children_.count(pid) == 0) return;
              // The runner is not reaped yet, so the task is still this one; its command's group
              // is signalled while the record still names it.
              if (group == pid || CommandGroup(id) == group) os().SignalGroup(group, SIGKILL);
            });
      }
      return true;
    }
    return false;
  }

  // Every setting is read when a task starts, so any change but the policy applies at once.
  bool ApplyLive(const Options& next) override {
    if (shutting_down_ || next.policy != Policy::kProcess) return false;
    options_ = next;
    OnWork();
    return true;
  }

 private:
  bool HasRoom() const {
    return options_.max_parallel == 0 || children_.size() < options_.max_parallel;
  }

  void StartTask(const ClaimedTask& task) {
    const Status allowed = CheckBeforeRun(task, options_);
    if (!allowed.ok()) {
      spdlog::warn("task {} refused: {}", task.record.id, allowed.message());
      context_.segment->Finish(task.slot, task.record.id, RefusedOutcome(allowed));
      return;
    }
    pid_t pid = 0;
    const Status spawned =
        os().StartRunner(*context_.segment, task, options_, context_.supervisor_pid, &pid);
    if (!spawned.ok()) {
      context_.segment->Finish(task.slot, task.record.id, SpawnFailedOutcome(spawned));
      return;
    }
    // The runner records itself (it may finish before this line would run).
    spdlog::debug("task {} ({}) started in process {}", task.record.id,
                  TaskKindName(task.spec.kind), pid);
    TaskProcess& p = children_[pid];
    p.slot = task.slot;
    p.id = task.record.id;
    p.kind = task.spec.kind;
    p.timeout_ms = task.record.timeout_ms;
    // An exec runner keeps the command's deadline itself, as a pool worker does.
    if (task.record.deadline_us != 0 && task.spec.kind != TaskKind::kExec)
      ArmDeadline(pid, task.record.deadline_us);
  }

  // The process group of task `id`'s command as its record names it (0 = none yet or ended).
  pid_t CommandGroup(uint64_t id) const {
    TaskInfo info;
    if (!context_.segment->Get(id, &info) || info.state != TaskState::kRunning) return 0;
    return info.record.child_pid;
  }

  // At the deadline: mark it, SIGTERM the task's whole group, SIGKILL after kill_grace. A pause
  // moves the deadline: when the one armed passes, the timer waits on for the moved one.
  void ArmDeadline(pid_t pid, uint64_t deadline_us) {
    TaskProcess& p = children_[pid];
    if (!p.deadline) p.deadline = std::make_unique<boost::asio::steady_timer>(*context_.io);
    uint64_t now = os().NowUs();
    p.deadline->expires_after(std::chrono::microseconds(MicrosUntil(deadline_us, now)));
    p.deadline->async_wait([this, pid](const boost::system::error_code& ec) {
      if (ec) return;
      auto it = children_.find(pid);
      if (it == children_.end()) return;
      TaskInfo info;
      const uint64_t at = os().NowUs();
      if (context_.segment->Get(it->second.id, &info) && info.state == TaskState::kRunning) {
        const uint64_t live =
            DeadlineWithPause(info.record.deadline_us, info.record.paused_at_us, at);
        if (!DeadlinePassed(live, at)) return ArmDeadline(pid, live);
      }
      context_.segment->MarkTimeoutFired(it->second.slot, it->second.id);
      spdlog::debug("task {} timed out after {} ms: SIGTERM to process group {}", it->second.id,
                    it->second.timeout_ms, pid);
      os().SignalGroup(pid, SIGTERM);
      it->second.terminated = true;
      it->second.deadline->expires_after(std::chrono::milliseconds(options_.kill_grace_ms));
      it->second.deadline->async_wait(
          [this, pid, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec2) {
            if (ec2 || alive.expired() || children_.count(pid) == 0) return;  // reaped meanwhile
            os().SignalGroup(pid, SIGKILL);
          });
    });
  }

  Os& os() { return *context_.os; }

  ExecutorContext context_;
  Options options_;
  std::map<pid_t, TaskProcess> children_;
  bool shutting_down_ = false;
  bool continuation_posted_ = false;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // expires with the executor
  static constexpr size_t kStartsPerTurn = 32;
};

}  // namespace

std::unique_ptr<Executor> MakePerTaskExecutor(const ExecutorContext& context,
                                              const Options& options) {
  return std::make_unique<PerTaskExecutor>(context, options);
}

}  // namespace taskq
