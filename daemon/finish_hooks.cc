#include "daemon/finish_hooks.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>

#include "common/clock.h"
#include "common/spawn.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {

FinishHooks::FinishHooks(boost::asio::io_context* io, Segment* segment, const Options& options)
    : io_(io), segment_(segment), options_(options) {
  // Tasks that ended before this daemon started had their hooks run (or not) by the last one.
  if (Enabled()) StartTracking();
}

bool FinishHooks::Enabled() const {
  if (!options_.on_finish.empty()) return true;
  for (const GroupConfig& g : options_.groups) {
    if (!g.on_finish.empty()) return true;
  }
  return false;
}

void FinishHooks::StartTracking() {
  tracking_ = true;
  next_id_ = std::atomic_ref<uint64_t>(segment_->header()->next_id).load();
  unfinished_.clear();
  for (uint64_t id : segment_->UnfinishedIds()) unfinished_.insert(id);
}

void FinishHooks::Apply(const Options& options) {
  options_ = options;
  if (!Enabled()) {
    tracking_ = false;
    unfinished_.clear();
  } else if (!tracking_) {
    StartTracking();
  }
}

const std::string& FinishHooks::HookOf(const std::string& group, uint64_t* timeout_ms) const {
  for (const GroupConfig& g : options_.groups) {
    if (g.name == group) {
      *timeout_ms = g.on_finish_timeout_ms;
      return g.on_finish;
    }
  }
  *timeout_ms = options_.on_finish_timeout_ms;
  static const std::string kNone;
  return group == "default" ? options_.on_finish : kNone;
}

void FinishHooks::Watch(uint64_t id) {
  if (tracking_) unfinished_.insert(id);
}

void FinishHooks::Poll() {
  if (!tracking_) return;
  // Woken by every doorbell ring under a flood of submits: look at most every 50 ms.
  const uint64_t now = MonotonicUs();
  if (now - last_poll_us_ < 50000) return;
  last_poll_us_ = now;
  // Submitted since the last look. An id not readable yet is being submitted: look again next
  // time, unless it was already unreadable then (evicted at once): then it is skipped.
  const uint64_t next = std::atomic_ref<uint64_t>(segment_->header()->next_id).load();
  uint64_t first_unreadable = next;
  for (uint64_t id = next_id_; id < next; ++id) {
    if (segment_->PeekState(id).has_value()) {
      unfinished_.insert(id);
    } else if (first_unreadable == next && id != skipped_) {
      first_unreadable = id;
    }
  }
  skipped_ = first_unreadable < next ? first_unreadable : 0;
  next_id_ = first_unreadable;
  for (auto it = unfinished_.begin(); it != unfinished_.end();) {
    const std::optional<TaskState> state = segment_->PeekState(*it);
    if (state && !IsFinished(*state)) {
      ++it;
      continue;
    }
    TaskInfo info;
    if (state && segment_->Get(*it, &info) && IsFinished(info.state)) Enqueue(info);
    it = unfinished_.erase(it);
  }
  StartWaiting();
}

void FinishHooks::Enqueue(const TaskInfo& info) {
  uint64_t timeout_ms = 0;
  const std::string& command = HookOf(info.group, &timeout_ms);
  if (command.empty()) return;
  if (waiting_.size() >= kMaxWaiting) {
    spdlog::warn("on_finish of task {} dropped: {} hooks wait already", info.id(), kMaxWaiting);
    return;
  }
  const TaskRecord& r = info.record;
  std::string labels;
  for (const std::string& label : info.spec.labels) {
    if (!labels.empty()) labels += ',';
    labels += label;
  }
  uint64_t queued = 0;
  if (r.group < kMaxGroups) {
    for (uint64_t n : segment_->header()->queued_by_priority[r.group]) queued += n;
  }
  Job job;
  job.id = info.id();
  job.command = command;
  job.timeout_ms = timeout_ms;
  job.env = {"PATH=/usr/local/bin:/usr/bin:/bin",
             fmt::format("TASKQ_ID={}", info.id()),
             fmt::format("TASKQ_STATE={}", TaskStateName(info.state)),
             fmt::format("TASKQ_EXIT_CODE={}", r.exit_code >= 0 ? std::to_string(r.exit_code) : ""),
             "TASKQ_GROUP=" + info.group,
             "TASKQ_LABELS=" + labels,
             fmt::format("TASKQ_QUEUED={}", queued),
             "TASKQ_QUEUE=" + options_.queue};
  waiting_.push_back(std::move(job));
}

void FinishHooks::StartWaiting() {
  while (running_.size() < kMaxRunning && !waiting_.empty()) {
    Job job = std::move(waiting_.front());
    waiting_.pop_front();
    SpawnRequest request;
    request.argv = {"/bin/sh", "-c", job.command};
    request.env = job.env;
    request.cwd = options_.state_dir;
    pid_t pid = 0;
    const Status spawned = Spawn(request, &pid);
    if (!spawned.ok()) {
      spdlog::warn("on_finish of task {} did not start: {}", job.id, spawned.message());
      continue;
    }
    Running& hook = running_[pid];
    hook.id = job.id;
    hook.timeout = std::make_unique<boost::asio::steady_timer>(*io_);
    hook.timeout->expires_after(std::chrono::milliseconds(job.timeout_ms));
    hook.timeout->async_wait(
        [this, pid, id = job.id, ms = job.timeout_ms](const boost::system::error_code& ec) {
          if (ec || running_.count(pid) == 0) return;  // ended meanwhile
          spdlog::warn("on_finish of task {} ran past on_finish_timeout ({} ms): killed", id, ms);
          ::kill(-pid, SIGKILL);  // its own session: the hook and what it started
        });
  }
}

bool FinishHooks::OnChildExit(pid_t pid, int wait_status) {
  auto it = running_.find(pid);
  if (it == running_.end()) return false;
  const uint64_t id = it->second.id;
  it->second.timeout->cancel();
  running_.erase(it);
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0) {
    spdlog::warn("on_finish of task {} exited with code {}", id, WEXITSTATUS(wait_status));
  } else if (WIFSIGNALED(wait_status)) {
    spdlog::warn("on_finish of task {} was killed by signal {}", id, WTERMSIG(wait_status));
  }
  StartWaiting();
  return true;
}

void FinishHooks::KillAll() {
  for (auto& [pid, hook] : running_) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  running_.clear();
  if (!waiting_.empty()) spdlog::warn("{} on_finish hooks not run: taskqd stops", waiting_.size());
  waiting_.clear();
}

}  // namespace taskq
