#include "client/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "common/control_protocol.h"
#include "common/doorbell.h"
#include "common/segment.h"
#include "common/shm_sync.h"
#include "common/spawn.h"
#include "common/task_policy.h"
#include "config/load.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace taskq {
namespace {

constexpr const char* kSystemConfig = "/etc/taskq/taskq.yaml";
constexpr size_t kSubmitChunk = 256;  // tasks queued per hold of the segment lock
// A waiter with more tasks than this to go polls every kManyPendingPollUs instead of sleeping on
// the finish futex; the last ones are waited for with a wake per finish (no added latency).
constexpr size_t kWakePerFinishBelow = 4;
constexpr int64_t kManyPendingPollUs = 1000;

// The supervisor's loop ticks once a second (heartbeat_us). A wait that finds it stopped
// (SIGSTOP, a debugger) and silent for kStoppedAfterUs, or silent for kHungAfterUs while it
// runs, says so instead of hanging: a `submit --wait --timeout 2` on a stopped daemon once waited
// until it was killed. A busy daemon is not a hung one: forking a thousand tasks under ASan kept
// a loop from ticking for over 5 s, so silence alone must last far longer to count.
constexpr uint64_t kStoppedAfterUs = 3000000;
constexpr uint64_t kHungAfterUs = 60000000;

// Why the daemon is not going to finish tasks, or "" when it may. No daemon at all is not a
// stall: queued tasks wait for the next start, as they always have.
std::string DaemonStall(const SegmentHeader& h) {
  const int32_t pid = h.owner_pid.load(std::memory_order_relaxed);
  const uint64_t beat = h.heartbeat_us.load(std::memory_order_relaxed);
  const uint64_t now = NowUs();
  if (pid <= 0 || beat == 0 || now < beat + kStoppedAfterUs) return "";
  const bool stalled = now >= beat + kHungAfterUs ? ProcessAlive(pid) : ProcessStopped(pid);
  if (!stalled) return "";
  return fmt::format("taskqd (pid {}) has not run its loop for {} s (stopped or hung?)", pid,
                     (now - beat) / 1000000);
}

int64_t RemainingUs(uint64_t deadline_us) {
  if (deadline_us == 0) return -1;
  uint64_t now = MonotonicUs();
  return deadline_us > now ? static_cast<int64_t>(deadline_us - now) : 0;
}

uint64_t DeadlineFrom(int64_t timeout_ms) {
  return timeout_ms < 0 ? 0 : MonotonicUs() + static_cast<uint64_t>(timeout_ms) * 1000 + 1;
}

// A reader that may not write the segment cannot register as a waiter (wakers wake only when
// someone is registered), so it sleeps at most this long between looks.
constexpr int64_t kReadOnlyPollUs = 2000;
// Tasks per control request: a bounded frame, and the daemon's loop serves others in between.
constexpr size_t kControlChunk = 4096;

// Sleeps on a futex word of the segment while it holds `seen`. `sleepers` (the header's waiters
// or space_waiters) counts this sleep, so that wakers know to make the wake call; nullptr for a
// word that is always woken (pong_seq).
void SleepOn(Segment& segment, std::atomic<uint32_t>* word, uint32_t seen, int64_t timeout_us,
             std::atomic<uint32_t>* sleepers) {
  if (sleepers != nullptr && segment.read_only()) {
    FutexWait(word, seen, timeout_us < 0 ? kReadOnlyPollUs : std::min(timeout_us, kReadOnlyPollUs));
    return;
  }
  if (sleepers != nullptr) sleepers->fetch_add(1, std::memory_order_seq_cst);
  FutexWait(word, seen, timeout_us);
  if (sleepers != nullptr) sleepers->fetch_sub(1, std::memory_order_acq_rel);
}

// One request to the daemon over its control socket and its reply; the reply's code and message
// become the Status. `fd` receives a descriptor the daemon passed, if any.
Status AskDaemon(const std::string& state_dir, const std::string& queue,
                 const ControlRequest& request, nlohmann::json* reply, int* fd = nullptr,
                 int64_t timeout_ms = -1) {
  std::string body;
  TASKQ_RETURN_IF_ERROR(SerializeControlRequest(request, &body));
  const std::string path = ControlSocketPath(state_dir);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return Status::Unavailable(fmt::format("control socket path {} is too long", path));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return Status::Unavailable(fmt::format("socket: {}", std::strerror(errno)));
  if (timeout_ms >= 0) {
    // A stopped daemon must not hang a client that gave a timeout.
    const timeval limit{static_cast<time_t>(timeout_ms / 1000),
                        static_cast<suseconds_t>(timeout_ms % 1000 * 1000)};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  }
  if (::connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(sock);
    if (error == EACCES || error == EPERM) {
      return Status::Unavailable(fmt::format(
          "permission denied: cannot reach taskqd of queue '{}' ({}); ask to be added to its group",
          queue, path));
    }
    return Status::Unavailable(
        fmt::format("no taskqd answers on {} (queue '{}'): {}", path, queue, std::strerror(error)));
  }
  Status s = WriteFrame(sock, body);
  if (s.ok()) s = ReadFrame(sock, &body, fd);
  const int error = errno;
  ::close(sock);
  if (!s.ok() && (error == EAGAIN || error == EWOULDBLOCK) && timeout_ms >= 0) {
    return Status::TimedOut(
        fmt::format("taskqd of queue '{}' did not answer within {} ms", queue, timeout_ms));
  }
  TASKQ_RETURN_IF_ERROR(s);
  *reply = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!reply->is_object() || !(*reply)["code"].is_number_integer()) {
    return Status::Unavailable("control socket: the daemon's reply is not understood");
  }
  const int code = (*reply)["code"].get<int>();
  const std::string message = reply->contains("message") && (*reply)["message"].is_string()
                                  ? (*reply)["message"].get<std::string>()
                                  : std::string("the daemon refused");
  switch (code) {
    case 0:
      return Status::Ok();
    case 1:
      return Status::Failed(message);
    case 2:
      return Status::Invalid(message);
    case 4:
      return Status::QueueFull(message);
    case 5:
      return Status::TimedOut(message);
    default:
      return Status::Unavailable(message);
  }
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

bool Client::writes_directly() const { return !segment_->read_only(); }

Status Client::CheckDaemon() {
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(
        fmt::format("no taskqd serves queue '{}': start it with `taskqd --queue {}`",
                    options_.queue, options_.queue));
  }
  if (segment_->header()->accepting.load() == 0) {
    return Status::Unavailable(fmt::format(
        "taskqd of queue '{}' is shutting down: submit after it restarts", options_.queue));
  }
  return Status::Ok();
}

const Options& Client::DaemonRules() {
  // The daemon writes the configuration in force beside its logs, readable by its group; a
  // client that cannot read it checks against its own configuration (the daemon checks again).
  // The daemon replaces the file by a rename (a new inode) on every reload, so an unchanged
  // identity means unchanged rules: a client that submits many times parses it once.
  const std::string path = state_dir() + "/effective.yaml";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    rules_cache_.valid = false;
    return options_;
  }
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  const int64_t ctime_ns = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
  RulesCache& c = rules_cache_;
  if (c.valid && c.dev == st.st_dev && c.ino == st.st_ino && c.size == st.st_size &&
      c.mtime_ns == mtime_ns && c.ctime_ns == ctime_ns) {
    return c.rules;
  }
  Options rules;
  if (!LoadOptionsFromFile(path, &rules).ok()) {
    c.valid = false;
    return options_;
  }
  c = RulesCache{true, st.st_dev, st.st_ino, st.st_size, mtime_ns, ctime_ns, std::move(rules)};
  return c.rules;
}

Status Client::CheckSpecs(const std::vector<TaskSpec>& specs) {
  const Options& rules = DaemonRules();
  for (size_t i = 0; i < specs.size(); ++i) {
    Status allowed = CheckTaskAllowed(specs[i], rules);
    if (allowed.ok()) continue;
    if (specs.size() == 1) return allowed;
    return Status::Invalid(fmt::format("task {} of {}: {}; nothing was submitted", i + 1,
                                       specs.size(), allowed.message()));
  }
  return Status::Ok();
}

// True when some group runs per-task processes: their executor is woken through the doorbell
// (pool workers wake on the segment's futex by themselves).
static bool AnyProcessGroup(const SegmentHeader* header) {
  for (const GroupEntry& g : header->groups) {
    if (g.in_use.load(std::memory_order_relaxed) != 0 &&
        g.policy.load(std::memory_order_relaxed) != static_cast<uint32_t>(Policy::kPool)) {
      return true;
    }
  }
  return false;
}

// `--array` in chunks: Segment::Submit names an array by its first task only within one call, so
// once a chunk with the array's first task landed, the later chunks name that id themselves.
// Returns the specs to submit from then on (`*copy` once they changed).
static const std::vector<TaskSpec>* PinArray(const std::vector<TaskSpec>& specs, size_t begin,
                                             size_t end, const std::vector<uint64_t>& ids,
                                             size_t ids_before, std::vector<TaskSpec>* copy) {
  auto unpinned = [](const TaskSpec& s) { return s.array_index && s.array_id == 0; };
  for (size_t i = begin; i < end && ids_before + (i - begin) < ids.size(); ++i) {
    if (!unpinned(specs[i])) continue;
    const uint64_t first = ids[ids_before + (i - begin)];
    if (copy->empty()) *copy = specs;
    for (size_t j = end; j < copy->size(); ++j) {
      if (unpinned((*copy)[j])) (*copy)[j].array_id = first;
    }
    return copy;
  }
  return &specs;
}

Status Client::SubmitThroughDaemon(const std::vector<TaskSpec>& all_specs,
                                   const SubmitOptions& submit, std::vector<uint64_t>* ids) {
  const std::vector<TaskSpec>* use = &all_specs;
  std::vector<TaskSpec> pinned;
  SegmentHeader* header = segment_->header();
  const uint64_t deadline = DeadlineFrom(submit.block_timeout_ms);
  size_t next = 0;
  Status status;
  for (;;) {
    const uint32_t seen = header->space_seq.load(std::memory_order_acquire);
    while (next < use->size()) {
      const std::vector<TaskSpec>& specs = *use;
      ControlRequest request;
      request.op = ControlOp::kSubmit;
      request.sync = submit.sync;
      const size_t n = std::min(kControlChunk, specs.size() - next);
      request.tasks.assign(specs.begin() + static_cast<ptrdiff_t>(next),
                           specs.begin() + static_cast<ptrdiff_t>(next + n));
      nlohmann::json reply;
      status = AskDaemon(state_dir(), options_.queue, request, &reply);
      if (reply.is_object() && reply.contains("ids") && reply["ids"].is_array()) {
        const size_t before = ids->size();
        for (const auto& id : reply["ids"]) {
          if (id.is_number_unsigned()) ids->push_back(id.get<uint64_t>());
        }
        if (submit.existing != nullptr) {
          const nlohmann::json found = reply.value("existing", nlohmann::json::array());
          for (size_t i = 0; i < ids->size() - before; ++i) {
            submit.existing->push_back(i < found.size() && found[i] == 1 ? 1 : 0);
          }
        }
        use = PinArray(specs, next, next + n, *ids, before, &pinned);
        next += reply["ids"].size();
        if (submit.on_landed && ids->size() > before) submit.on_landed(*ids, before);
      }
      if (!status.ok()) break;
    }
    if (status.code() != StatusCode::kQueueFull || !submit.block) break;
    const int64_t left = RemainingUs(deadline);
    if (left == 0) break;
    SleepOn(*segment_, &header->space_seq, seen,
            left < 0 ? 1000000 : std::min<int64_t>(left, 1000000), &header->space_waiters);
  }
  return status;
}

Status Client::Submit(const std::vector<TaskSpec>& specs, const SubmitOptions& submit,
                      std::vector<uint64_t>* ids) {
  TASKQ_RETURN_IF_ERROR(CheckDaemon());
  TASKQ_RETURN_IF_ERROR(CheckSpecs(specs));
  // A bad spec refuses the whole batch before any of it is queued, as one Segment::Submit would:
  // its fields, its group and its dependencies (a typo would otherwise wait for nothing).
  std::vector<std::string> groups;
  for (const GroupInfo& group : segment_->Groups()) groups.push_back(group.name);
  for (const TaskSpec& spec : specs) {
    TaskRecord scratch;
    std::memset(static_cast<void*>(&scratch), 0, sizeof(scratch));
    TASKQ_RETURN_IF_ERROR(EncodeSpec(spec, &scratch));
    const std::string group = spec.group.empty() ? std::string("default") : spec.group;
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) {
      return Status::Invalid(
          fmt::format("--group: no group '{}'; create it with `taskq group add {}` or in the "
                      "configuration's `groups:`, or see `taskq group list`",
                      group, group));
    }
    for (uint64_t after : spec.after) {
      TaskInfo info;
      if (!segment_->Get(after, &info)) {
        return Status::Invalid(fmt::format(
            "--after: no task {} (never submitted, or evicted by retention); check the id", after));
      }
    }
  }
  if (submit.sync && segment_->durability() == Durability::kMemory) {
    return Status::Invalid(fmt::format(
        "--sync: queue '{}' keeps no journal (durability: memory); set `durability: flush` or "
        "`sync` in its configuration and restart taskqd",
        options_.queue));
  }
  if (segment_->read_only()) return SubmitThroughDaemon(specs, submit, ids);
  SegmentHeader* header = segment_->header();
  // Durable submits print their ids only once synced: one fdatasync for the whole batch (and
  // for whoever else syncs at the same moment), before each wait for space and at the end.
  const bool sync = submit.sync || segment_->durability() == Durability::kSync;
  size_t unannounced = ids->size();
  auto announce = [&]() -> Status {
    if (!sync || ids->size() == unannounced) return Status::Ok();
    TASKQ_RETURN_IF_ERROR(segment_->MakeDurable());
    if (submit.on_landed) submit.on_landed(*ids, unannounced);
    unannounced = ids->size();
    return Status::Ok();
  };
  const bool doorbell = AnyProcessGroup(header);
  const uint64_t deadline = DeadlineFrom(submit.block_timeout_ms);
  size_t next = 0;  // the first spec not submitted yet
  const std::vector<TaskSpec>* use = &specs;
  std::vector<TaskSpec> pinned;
  Status status;
  for (;;) {
    uint32_t seen = header->space_seq.load(std::memory_order_acquire);
    // Submit in chunks: each holds the lock briefly, so the workers start on the first tasks
    // while the rest are still being queued (one lock for a 100,000-task batch stalled them).
    while (next < use->size()) {
      const size_t n = std::min(kSubmitChunk, use->size() - next);
      const size_t before = ids->size();
      status = segment_->Submit(std::span<const TaskSpec>(*use).subspan(next, n), ids, std::nullopt,
                                submit.existing);
      use = PinArray(*use, next, next + n, *ids, before, &pinned);
      next += ids->size() - before;
      if (ids->size() > before && doorbell) RingDoorbell(state_dir(), kDoorbellWork);
      if (!sync && submit.on_landed && ids->size() > before) submit.on_landed(*ids, before);
      TEST_CrashPoint("submit-chunk-printed");
      if (!status.ok()) break;
    }
    TASKQ_RETURN_IF_ERROR(announce());
    if (status.code() != StatusCode::kQueueFull || !submit.block) break;
    int64_t left = RemainingUs(deadline);
    if (left == 0) break;
    // Space appears when tasks finish and retention lets their slots go; re-check each second.
    SleepOn(*segment_, &header->space_seq, seen,
            left < 0 ? 1000000 : std::min<int64_t>(left, 1000000), &header->space_waiters);
  }
  return status;
}

Status Client::WaitStates(const std::vector<uint64_t>& ids, int64_t timeout_ms,
                          std::vector<TaskState>* states, const WaitProgress& progress) {
  SegmentHeader* header = segment_->header();
  const uint64_t deadline = DeadlineFrom(timeout_ms);
  // A finished task stays finished, so each pass re-reads only the tasks still pending. Without a
  // progress display a pass also stops at the first pending task that is not finished yet:
  // tasks finish roughly in submission order, so waiting for n tasks costs O(1) reads per wakeup
  // instead of O(n) (the first pass reads them all, to refuse unknown ids at once). The reads
  // take no lock (Segment::PeekState).
  states->assign(ids.size(), TaskState::kQueued);
  std::vector<size_t> pending(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) pending[i] = i;
  bool first_pass = true;
  size_t last_done = SIZE_MAX;
  uint64_t next_stall_check_us = 0;
  bool undurable = false;  // finished, but not synced yet (durability sync)
  auto refresh = [&](bool read_all) -> Status {
    size_t kept = 0;
    bool stop = false;
    undurable = false;
    for (size_t i : pending) {
      if (stop) {
        pending[kept++] = i;
        continue;
      }
      const std::optional<TaskState> state = segment_->PeekState(ids[i]);
      if (!state) {
        return Status::Invalid(
            fmt::format("no task {} in queue '{}' (never submitted, or evicted by retention)",
                        ids[i], options_.queue));
      }
      (*states)[i] = *state;
      // Under durability sync a result is reported once it is on stable storage.
      if (IsFinished(*state)) {
        if (segment_->ResultDurable(ids[i])) continue;
        undurable = true;
      }
      pending[kept++] = i;
      stop = !read_all;
    }
    pending.resize(kept);
    return Status::Ok();
  };
  for (;;) {
    TASKQ_RETURN_IF_ERROR(refresh(first_pass || progress));
    // Results that wait only for the journal's sync: the daemon's user syncs it itself (one
    // fdatasync covers every result so far), a member waits for the runner's or the daemon's.
    if (undurable && !segment_->read_only() && segment_->MakeDurable().ok()) {
      TASKQ_RETURN_IF_ERROR(refresh(first_pass || progress));
    }
    first_pass = false;
    const size_t done = ids.size() - pending.size();
    if (progress && done != last_done) progress(*states);
    last_done = done;
    if (pending.empty()) return Status::Ok();
    if (const uint64_t now = MonotonicUs(); now >= next_stall_check_us) {
      next_stall_check_us = now + 1000000;
      const std::string stall = DaemonStall(*header);
      if (!stall.empty()) {
        TASKQ_RETURN_IF_ERROR(refresh(/*read_all=*/true));
        if (pending.empty()) return Status::Ok();
        return Status::Unavailable(fmt::format(
            "{}: {} of {} tasks unfinished; wait again once it runs (`taskq status` shows them)",
            stall, pending.size(), ids.size()));
      }
    }
    int64_t left = RemainingUs(deadline);
    if (left == 0) {
      TASKQ_RETURN_IF_ERROR(refresh(/*read_all=*/true));  // the current view of every task
      if (pending.empty()) return Status::Ok();
      return Status::TimedOut(fmt::format("{} of {} tasks still unfinished when the wait timed out",
                                          pending.size(), ids.size()));
    }
    const int64_t cap_us = progress ? 200000 : 1000000;  // a progress display wants 5 a second
    if (pending.size() > kWakePerFinishBelow) {
      // Many tasks to go: look again in a millisecond instead of waking on every finish. A
      // registered waiter costs each finishing runner two futex wakes and this process a
      // context switch per task, which halved pool throughput (docs/PERFORMANCE.md).
      std::this_thread::sleep_for(std::chrono::microseconds(
          left < 0 ? kManyPendingPollUs : std::min<int64_t>(left, kManyPendingPollUs)));
    } else {
      // Asleep on the first pending task's own word: its end wakes this client (and only the
      // clients that wait for it), not every end in the queue. The sleep compares the word with
      // the state this look saw, so an end since then returns at once.
      const TaskState seen = (*states)[pending.front()];
      std::atomic<uint32_t>* word = segment_->TaskStateWord(ids[pending.front()]);
      if (word == nullptr) continue;  // evicted meanwhile: the next look reports it
      const int64_t sleep_us = left < 0 ? cap_us : std::min<int64_t>(left, cap_us);
      if (IsFinished(seen)) {
        // Ended, but not on stable storage yet (durability sync): no end will wake this word.
        FutexWait(word, static_cast<uint32_t>(seen), std::min<int64_t>(sleep_us, kReadOnlyPollUs));
      } else {
        SleepOn(*segment_, word, static_cast<uint32_t>(seen), sleep_us, &header->waiters);
      }
    }
  }
}

Status Client::Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms,
                    std::vector<TaskInfo>* tasks, const WaitProgress& progress) {
  std::vector<TaskState> states;
  const Status waited = WaitStates(ids, timeout_ms, &states, progress);
  // A stalled daemon may have stopped while holding the segment lock: read nothing more.
  if (waited.code() == StatusCode::kInvalid || waited.code() == StatusCode::kUnavailable) {
    return waited;
  }
  tasks->assign(ids.size(), TaskInfo{});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!segment_->Get(ids[i], &(*tasks)[i])) {
      return Status::Invalid(
          fmt::format("no task {} in queue '{}' (never submitted, or evicted by retention)", ids[i],
                      options_.queue));
    }
  }
  return waited;
}

std::vector<uint64_t> Client::Unfinished() { return segment_->UnfinishedIds(); }

uint64_t Client::NextId() {
  // Written under the segment lock; a relaxed read is a lower bound, which is all a wait needs.
  return std::atomic_ref<uint64_t>(segment_->header()->next_id).load(std::memory_order_acquire);
}

std::vector<uint64_t> Client::SubmittedSince(uint64_t* watermark) {
  std::vector<uint64_t> ids;
  const uint64_t next = NextId();
  uint64_t first_pending = next;
  for (uint64_t id = *watermark; id < next; ++id) {
    if (segment_->PeekState(id).has_value()) {
      ids.push_back(id);
    } else if (first_pending == next) {
      first_pending = id;  // reserved but not published yet (or already evicted)
    }
  }
  *watermark = first_pending;
  return ids;
}

Status Client::Get(uint64_t id, TaskInfo* info) {
  if (!segment_->Get(id, info)) {
    return Status::Invalid(fmt::format(
        "no task {} in queue '{}' (never submitted, or evicted by retention)", id, options_.queue));
  }
  return Status::Ok();
}

std::vector<TaskInfo> Client::List() { return segment_->List(); }

Status Client::Cancel(uint64_t id) {
  if (!segment_->read_only()) return segment_->Cancel(id);
  ControlRequest request;
  request.op = ControlOp::kCancel;
  request.id = id;
  nlohmann::json reply;
  return AskDaemon(state_dir(), options_.queue, request, &reply);
}

// One task's steering request (kill, hold, release, pause, resume, restart) to the daemon,
// which checks that the asker may steer that task.
Status Client::AskAboutTask(ControlOp op, uint64_t id, int signal) {
  ControlRequest request;
  request.op = op;
  request.id = id;
  request.signal = signal;
  nlohmann::json reply;
  return AskDaemon(state_dir(), options_.queue, request, &reply);
}

Status Client::Kill(uint64_t id, int signal) { return AskAboutTask(ControlOp::kKill, id, signal); }

Status Client::SetHeld(uint64_t id, bool held) {
  return AskAboutTask(held ? ControlOp::kHold : ControlOp::kRelease, id);
}

Status Client::SetPaused(uint64_t id, bool paused) {
  return AskAboutTask(paused ? ControlOp::kPause : ControlOp::kResume, id);
}

Status Client::Restart(uint64_t id) { return AskAboutTask(ControlOp::kRestart, id); }

Status Client::Reload() {
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(fmt::format("no taskqd serves queue '{}'", options_.queue));
  }
  ControlRequest request;
  request.op = ControlOp::kReload;
  nlohmann::json reply;
  return AskDaemon(state_dir(), options_.queue, request, &reply);
}

Status Client::Repair(std::vector<std::string>* fixes) {
  if (!segment_->read_only()) {
    *fixes = segment_->Repair();
    return Status::Ok();
  }
  ControlRequest request;
  request.op = ControlOp::kRepair;
  nlohmann::json reply;
  TASKQ_RETURN_IF_ERROR(AskDaemon(state_dir(), options_.queue, request, &reply));
  if (reply.contains("fixes") && reply["fixes"].is_array()) {
    for (const auto& fix : reply["fixes"]) {
      if (fix.is_string()) fixes->push_back(fix.get<std::string>());
    }
  }
  return Status::Ok();
}

Status Client::OpenLog(uint64_t id, bool is_stderr, int* fd, uint32_t attempt) {
  if (segment_->read_only()) {
    ControlRequest request;
    request.op = ControlOp::kLogs;
    request.id = id;
    request.stderr_stream = is_stderr;
    request.attempt = attempt;
    nlohmann::json reply;
    TASKQ_RETURN_IF_ERROR(AskDaemon(state_dir(), options_.queue, request, &reply, fd));
    if (*fd < 0) return Status::Failed("the daemon sent no log descriptor");
    return Status::Ok();
  }
  const std::string dir = state_dir() + "/logs";
  const int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0)
    return Status::Failed(fmt::format("cannot open {}: {}", dir, std::strerror(errno)));
  TaskInfo info;
  if (!segment_->Get(id, &info)) {
    ::close(dir_fd);
    return Status::Invalid(fmt::format("no task {} in queue '{}'", id, options_.queue));
  }
  if (attempt == 0) attempt = info.record.attempts;  // the latest
  if (attempt > info.record.attempts) {
    ::close(dir_fd);
    return Status::Invalid(fmt::format("--attempt: task {} has run {} time(s); give 1..{}", id,
                                       info.record.attempts, info.record.attempts));
  }
  // One attempt only: its logs have the plain name (<id>.1.* exists once a second one started).
  const std::string name = LogName(id, info.record.attempts <= 1 ? 1 : attempt, is_stderr);
  *fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  const int error = errno;
  ::close(dir_fd);
  if (*fd < 0) {
    return Status::Failed(
        fmt::format("cannot read {}/{} (removed?): {}", dir, name, std::strerror(error)));
  }
  return Status::Ok();
}

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
  stats.durability = segment_->durability();
  stats.journal_entries = h->journal_entries.load(std::memory_order_acquire);
  stats.journal_synced = h->journal_synced.load(std::memory_order_acquire);
  stats.journal_syncs = h->journal_syncs.load(std::memory_order_relaxed);
  for (GroupInfo& info : segment_->Groups()) {
    QueueStats::Group group;
    group.queued = counts.queued_by_group[info.index];
    group.running = counts.running_by_group[info.index];
    group.finished = counts.finished_by_group[info.index];
    group.info = std::move(info);
    stats.groups.push_back(std::move(group));
  }
  return stats;
}

namespace {

Status AskGroupChange(const std::string& state_dir, const std::string& queue,
                      const std::string& action, const std::string& name,
                      const GroupSettings& settings) {
  ControlRequest request;
  request.op = ControlOp::kGroup;
  request.group_action = action;
  request.name = name;
  request.group = settings;
  nlohmann::json reply;
  return AskDaemon(state_dir, queue, request, &reply);
}

}  // namespace

Status Client::AddGroup(const std::string& name, const GroupSettings& settings) {
  if (segment_->read_only())
    return AskGroupChange(state_dir(), options_.queue, "add", name, settings);
  return segment_->AddGroup(name, settings, /*from_config=*/false, /*update=*/false);
}

Status Client::RemoveGroup(const std::string& name) {
  if (segment_->read_only()) return AskGroupChange(state_dir(), options_.queue, "remove", name, {});
  return segment_->RemoveGroup(name);
}

Status Client::SetGroupPaused(const std::string& name, bool paused) {
  if (segment_->read_only()) {
    return AskGroupChange(state_dir(), options_.queue, paused ? "pause" : "resume", name, {});
  }
  return segment_->SetGroupPaused(name, paused);
}

std::vector<GroupInfo> Client::Groups() { return segment_->Groups(); }

Status Client::Ping(int64_t timeout_ms, DaemonInfo* info) {
  SegmentHeader* header = segment_->header();
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(fmt::format("no taskqd serves queue '{}'", options_.queue));
  }
  if (segment_->read_only()) {
    // A round trip through the daemon's loop over the control socket.
    ControlRequest request;
    request.op = ControlOp::kPing;
    nlohmann::json reply;
    TASKQ_RETURN_IF_ERROR(
        AskDaemon(state_dir(), options_.queue, request, &reply, nullptr, timeout_ms));
    *info = ReadDaemonInfo();
    return Status::Ok();
  }
  const uint32_t before = header->pong_seq.load(std::memory_order_acquire);
  if (!RingDoorbell(state_dir(), kDoorbellPing)) {
    return Status::Unavailable(fmt::format("taskqd of queue '{}' does not listen on {}",
                                           options_.queue, DoorbellPath(state_dir())));
  }
  const uint64_t deadline = DeadlineFrom(timeout_ms);
  for (;;) {
    // The daemon answers by bumping pong_seq with a wake (Segment::AnswerPing).
    const uint32_t seen = header->pong_seq.load(std::memory_order_acquire);
    if (seen != before) break;
    int64_t left = RemainingUs(deadline);
    if (left == 0) {
      return Status::TimedOut(fmt::format("taskqd of queue '{}' did not answer within {} ms",
                                          options_.queue, timeout_ms));
    }
    SleepOn(*segment_, &header->pong_seq, seen, left < 0 ? 100000 : std::min<int64_t>(left, 100000),
            /*sleepers=*/nullptr);
  }
  *info = ReadDaemonInfo();
  return Status::Ok();
}

Status Client::Shutdown(bool wait, int64_t timeout_ms) {
  if (!segment_->SupervisorAlive()) {
    return Status::Unavailable(fmt::format("no taskqd serves queue '{}'", options_.queue));
  }
  if (segment_->read_only()) {
    ControlRequest request;
    request.op = ControlOp::kShutdown;
    nlohmann::json reply;
    TASKQ_RETURN_IF_ERROR(AskDaemon(state_dir(), options_.queue, request, &reply));
  } else if (!RingDoorbell(state_dir(), kDoorbellShutdown)) {
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
