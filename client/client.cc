#include "taskq/client.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "common/doorbell.h"
#include "common/segment.h"
#include "common/shm_sync.h"
#include "config/load.h"
#include "fmt/format.h"

namespace taskq {
namespace {

constexpr const char* kSystemConfig = "/etc/taskq/taskq.yaml";

int64_t RemainingUs(uint64_t deadline_us) {
  if (deadline_us == 0) return -1;
  uint64_t now = MonotonicUs();
  return deadline_us > now ? static_cast<int64_t>(deadline_us - now) : 0;
}

uint64_t DeadlineFrom(int64_t timeout_ms) {
  return timeout_ms < 0 ? 0 : MonotonicUs() + static_cast<uint64_t>(timeout_ms) * 1000 + 1;
}

// Sleeps on a futex word of the segment, registered as a waiter so wakers know to wake.
void SleepOn(SegmentHeader* header, std::atomic<uint32_t>* word, uint32_t seen,
             int64_t timeout_us) {
  header->waiters.fetch_add(1, std::memory_order_acq_rel);
  FutexWait(word, seen, timeout_us);
  header->waiters.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace

Client::~Client() = default;

Status Client::ResolveOptions(const ConnectOptions& connect, Options* resolved) {
  Options options;
  std::string config = connect.config_path;
  if (config.empty()) {
    const char* env = std::getenv("TASKQ_CONFIG");
    if (env != nullptr && *env != '\0') {
      config = env;
    } else if (std::filesystem::exists(kSystemConfig)) {
      config = kSystemConfig;
    }
  }
  if (!config.empty()) TASKQ_RETURN_IF_ERROR(LoadOptionsFromFile(config, &options));
  std::string queue = connect.queue;
  if (queue.empty()) {
    const char* env = std::getenv("TASKQ_QUEUE");
    if (env != nullptr) queue = env;
  }
  if (!queue.empty()) {
    Status valid = ValidateQueueName(queue);
    if (!valid.ok()) return Status::Invalid("--queue: " + valid.message());
    options.queue = queue;
  }
  *resolved = ResolveDefaults(options);
  return Status::Ok();
}

Status Client::Connect(const ConnectOptions& connect, std::unique_ptr<Client>* out) {
  std::unique_ptr<Client> client(new Client());
  TASKQ_RETURN_IF_ERROR(ResolveOptions(connect, &client->options_));
  TASKQ_RETURN_IF_ERROR(Segment::Attach(client->options_, &client->segment_));
  *out = std::move(client);
  return Status::Ok();
}

std::string Client::state_dir() const { return segment_->state_dir(); }

Status Client::CheckDaemon() {
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(fmt::format(
        "no taskqd serves queue '{}': start it with `taskqd --queue {}`", options_.queue,
        options_.queue));
  }
  if (segment_->header()->accepting.load() == 0) {
    return Status::Unavailable(
        fmt::format("taskqd of queue '{}' is shutting down: submit after it restarts",
                    options_.queue));
  }
  return Status::Ok();
}

Status Client::Submit(const std::vector<TaskSpec>& specs, const SubmitOptions& submit,
                      std::vector<uint64_t>* ids) {
  TASKQ_RETURN_IF_ERROR(CheckDaemon());
  SegmentHeader* header = segment_->header();
  const uint64_t deadline = DeadlineFrom(submit.block_timeout_ms);
  std::vector<TaskSpec> pending = specs;
  Status status;
  for (;;) {
    uint32_t seen = header->space_seq.load(std::memory_order_acquire);
    size_t before = ids->size();
    status = segment_->Submit(pending, ids);
    if (ids->size() > before &&
        header->policy.load() != static_cast<uint32_t>(Policy::kPool)) {
      RingDoorbell(state_dir(), kDoorbellWork);
    }
    if (status.code() != StatusCode::kQueueFull || !submit.block) break;
    pending.erase(pending.begin(), pending.begin() + static_cast<long>(ids->size() - before));
    int64_t left = RemainingUs(deadline);
    if (left == 0) break;
    // Space appears when tasks finish and retention lets their slots go; re-check each second.
    SleepOn(header, &header->space_seq, seen, left < 0 ? 1000000 : std::min<int64_t>(left, 1000000));
  }
  return status;
}

Status Client::Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms,
                    std::vector<TaskInfo>* tasks,
                    const std::function<void(const std::vector<TaskInfo>&)>& progress) {
  SegmentHeader* header = segment_->header();
  const uint64_t deadline = DeadlineFrom(timeout_ms);
  size_t last_done = SIZE_MAX;
  for (;;) {
    uint32_t seen = header->done_seq.load(std::memory_order_acquire);
    tasks->clear();
    size_t done = 0;
    for (uint64_t id : ids) {
      TaskInfo info;
      if (!segment_->Get(id, &info)) {
        return Status::Invalid(fmt::format("no task {} in queue '{}' (never submitted, or "
                                           "evicted by retention)",
                                           id, options_.queue));
      }
      done += IsFinished(info.state) ? 1 : 0;
      tasks->push_back(std::move(info));
    }
    if (progress && done != last_done) progress(*tasks);
    last_done = done;
    if (done == ids.size()) return Status::Ok();
    int64_t left = RemainingUs(deadline);
    if (left == 0) {
      return Status::TimedOut(fmt::format("{} of {} tasks still unfinished when the wait timed out",
                                          ids.size() - done, ids.size()));
    }
    // Wake on each finish; re-check at least once a second (a progress display wants it).
    SleepOn(header, &header->done_seq, seen, left < 0 ? 1000000 : std::min<int64_t>(left, 1000000));
  }
}

std::vector<uint64_t> Client::Unfinished() {
  std::vector<uint64_t> ids;
  for (const TaskInfo& info : segment_->List()) {
    if (info.state == TaskState::kQueued || info.state == TaskState::kRunning) {
      ids.push_back(info.id());
    }
  }
  return ids;
}

Status Client::Get(uint64_t id, TaskInfo* info) {
  if (!segment_->Get(id, info)) {
    return Status::Invalid(fmt::format(
        "no task {} in queue '{}' (never submitted, or evicted by retention)", id,
        options_.queue));
  }
  return Status::Ok();
}

std::vector<TaskInfo> Client::List() { return segment_->List(); }

Status Client::Cancel(uint64_t id) { return segment_->Cancel(id); }

DaemonInfo Client::ReadDaemonInfo() {
  const SegmentHeader* h = segment_->header();
  DaemonInfo info;
  info.pid = h->owner_pid.load();
  info.ready = h->ready.load() != 0;
  info.policy = static_cast<Policy>(h->policy.load());
  info.workers_wanted = h->workers_wanted.load();
  info.max_parallel = h->max_parallel.load();
  info.running_processes = h->running_tasks.load();
  for (const WorkerEntry& w : h->workers) info.workers += w.pid.load() != 0 ? 1 : 0;
  uint64_t started = h->started_at_us.load();
  uint64_t now = NowUs();
  info.uptime_us = started != 0 && now > started ? now - started : 0;
  return info;
}

QueueStats Client::Stats() {
  QueueStats stats;
  StateCounts counts = segment_->Count();
  std::copy(std::begin(counts.by_state), std::end(counts.by_state), std::begin(stats.by_state));
  stats.queue_depth = counts.queue_depth;
  stats.daemon_running = segment_->SupervisorAlive();
  if (stats.daemon_running) stats.daemon = ReadDaemonInfo();
  const SegmentHeader* h = segment_->header();
  stats.submitted_total = h->submitted_total;
  stats.finished_total = h->finished_total;
  stats.throughput_per_s = stats.daemon_running ? h->rate_milli.load() / 1000.0 : 0.0;
  stats.lock_repairs = h->lock_repairs;
  stats.capacity = segment_->capacity();
  return stats;
}

Status Client::Ping(int64_t timeout_ms, DaemonInfo* info) {
  SegmentHeader* header = segment_->header();
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(fmt::format("no taskqd serves queue '{}'", options_.queue));
  }
  const uint32_t before = header->pong_seq.load(std::memory_order_acquire);
  if (!RingDoorbell(state_dir(), kDoorbellPing)) {
    return Status::Unavailable(fmt::format("taskqd of queue '{}' does not listen on {}",
                                           options_.queue, DoorbellPath(state_dir())));
  }
  const uint64_t deadline = DeadlineFrom(timeout_ms);
  for (;;) {
    // The daemon answers by bumping pong_seq, then done_seq with a wake (WakeWaiters).
    uint32_t seen = header->done_seq.load(std::memory_order_acquire);
    if (header->pong_seq.load(std::memory_order_acquire) != before) break;
    int64_t left = RemainingUs(deadline);
    if (left == 0) {
      return Status::TimedOut(fmt::format("taskqd of queue '{}' did not answer within {} ms",
                                          options_.queue, timeout_ms));
    }
    SleepOn(header, &header->done_seq, seen, left < 0 ? 100000 : std::min<int64_t>(left, 100000));
  }
  *info = ReadDaemonInfo();
  return Status::Ok();
}

Status Client::Shutdown(bool wait, int64_t timeout_ms) {
  if (!segment_->SupervisorAlive() || !RingDoorbell(state_dir(), kDoorbellShutdown)) {
    return Status::Unavailable(fmt::format("no taskqd serves queue '{}'", options_.queue));
  }
  if (!wait) return Status::Ok();
  const uint64_t deadline = DeadlineFrom(timeout_ms);
  while (segment_->SupervisorAlive()) {
    if (RemainingUs(deadline) == 0) {
      return Status::TimedOut(fmt::format("taskqd of queue '{}' is still draining after {} ms",
                                          options_.queue, timeout_ms));
    }
    // The supervisor's exit releases a file lock, which has no wakeup to wait on: poll.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Ok();
}

}  // namespace taskq
