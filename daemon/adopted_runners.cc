#include "daemon/adopted_runners.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "common/spawn.h"
#include "daemon/executor.h"
#include "daemon/recovery.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

// Signals the process group of the command an adopted runner started. The pid comes from the
// record, so it is signalled only while it is the adopted runner's child and a session leader
// (taskq starts commands with setsid): the runner has not reaped it, so the pid cannot have been
// reused. Never kill(0) or kill(-1).
void SignalCommand(pid_t runner, pid_t leader, int signal) {
  if (leader <= 1 || ProcessParent(leader) != runner || ::getsid(leader) != leader) return;
  ::kill(-leader, signal);
}

}  // namespace

AdoptedRunners::AdoptedRunners(boost::asio::io_context* io, Segment* segment,
                               std::function<void()> on_end)
    : io_(io), segment_(segment), on_end_(std::move(on_end)) {}

AdoptedRunners::~AdoptedRunners() = default;  // the descriptors close their pidfds

void AdoptedRunners::Adopt(const KeptTask& kept) {
  Adopted& a = by_id_[kept.id];
  a.slot = kept.slot;
  a.runner = kept.runner;
  a.pidfd = std::make_unique<boost::asio::posix::stream_descriptor>(*io_, kept.pidfd);
  spdlog::info(
      "task {}: its runner (pid {}) outlived the previous taskqd and keeps running it: "
      "adopted",
      kept.id, kept.runner);
  Watch(kept.id);
}

// A pidfd turns readable when its process exits.
void AdoptedRunners::Watch(uint64_t id) {
  by_id_[id].pidfd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                               [this, id](const boost::system::error_code& ec) {
                                 if (ec == boost::asio::error::operation_aborted) return;
                                 Ended(id);
                               });
}

void AdoptedRunners::Ended(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  // Nothing changes when the runner recorded the result first (the usual end). Otherwise its
  // command, which no one waits for now, goes with it.
  TaskInfo info;
  if (segment_->Get(id, &info) && info.state == TaskState::kRunning)
    KillTaskGroup(info.record.child_pid);
  const TaskState now = segment_->RunnerDied(
      it->second.slot, id,
      fmt::format("its runner pid {} (adopted after a taskqd restart) ended without recording a "
                  "result",
                  it->second.runner),
      0);
  spdlog::info("task {}: adopted runner pid {} ended; task {}", id, it->second.runner,
               TaskStateName(now));
  by_id_.erase(it);
  on_end_();
}

bool AdoptedRunners::Kill(const TaskRecord& running, int signal, bool escalate,
                          uint64_t kill_grace_ms) {
  auto it = by_id_.find(running.id);
  if (it == by_id_.end()) return false;
  // A command not started yet is killed by its runner when it sees the mark (SetChild).
  SignalCommand(it->second.runner, running.child_pid, signal);
  // A paused command must run to act on the signal.
  SignalCommand(it->second.runner, running.child_pid, SIGCONT);
  if (escalate) {
    auto timer = std::make_unique<boost::asio::steady_timer>(*io_);
    timer->expires_after(std::chrono::milliseconds(kill_grace_ms));
    timer->async_wait([this, id = running.id, runner = it->second.runner,
                       group = running.child_pid](const boost::system::error_code& ec) {
      // Still adopted: the runner has not ended, so the group is still its command's.
      if (!ec && by_id_.count(id) != 0) SignalCommand(runner, group, SIGKILL);
    });
    it->second.kill_grace = std::move(timer);
  }
  return true;
}

bool AdoptedRunners::Pause(const TaskRecord& running, bool pause) {
  auto it = by_id_.find(running.id);
  if (it == by_id_.end()) return false;
  SignalCommand(it->second.runner, running.child_pid, pause ? SIGSTOP : SIGCONT);
  return true;
}

void AdoptedRunners::KillAll() {
  for (auto& [id, a] : by_id_) {
    TaskInfo info;
    if (segment_->Get(id, &info) && info.state == TaskState::kRunning) {
      const TaskState now = segment_->RunnerDied(a.slot, id, kKilledAtShutdown, SIGKILL);
      spdlog::warn("task {}: {} -> {}", id, kKilledAtShutdown, TaskStateName(now));
      KillTaskGroup(info.record.child_pid);
    }
    // Through the pidfd: the very process adopted, whatever its pid names now.
    syscall(SYS_pidfd_send_signal, a.pidfd->native_handle(), SIGKILL, nullptr, 0);
  }
}

}  // namespace taskq
