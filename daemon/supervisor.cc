#include "daemon/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/clock.h"
#include "common/control_protocol.h"
#include "common/doorbell.h"
#include "common/segment.h"
#include "common/worker_lifecycle.h"
#include "config/load.h"
#include "daemon/adopted_runners.h"
#include "daemon/control_server.h"
#include "daemon/control_service.h"
#include "daemon/executor.h"
#include "daemon/finish_hooks.h"
#include "daemon/group_runners.h"
#include "daemon/held_walk.h"
#include "daemon/metrics_server.h"
#include "daemon/notify.h"
#include "daemon/privileges.h"
#include "daemon/recovery.h"
#include "daemon/state_dir.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"
#include "yaml-cpp/yaml.h"

namespace asio = boost::asio;

namespace taskq {
namespace {

// This build never maps a segment of an earlier layout (its bytes mean other things), so the
// tasks one still holds would go unnoticed: the start that creates the new segment says so.
void WarnOfOlderSegments(const Options& options) {
  for (uint32_t version = 1; version < kLayoutVersion; ++version) {
    const SegmentLocation older = LocateSegment(options, version);
    for (const std::string& path : {"/dev/shm/" + older.shm_name, older.file_path}) {
      std::error_code ignored;
      if (!std::filesystem::exists(path, ignored)) continue;
      spdlog::warn(
          "{} is a queue of an older taskq (segment layout {}; this one uses {}) and is not read: "
          "tasks still queued there do not run here (with durability flush or sync the journal "
          "has brought them over); drain it with the older taskq, or remove it (rm {})",
          path, version, kLayoutVersion, path);
    }
  }
}

}  // namespace

Status LoadEffectiveOptions(const std::string& config_path, const CommandLineOverrides& overrides,
                            Options* resolved) {
  Options options;
  if (!config_path.empty()) TASKQ_RETURN_IF_ERROR(LoadOptionsFromFile(config_path, &options));
  if (!overrides.queue.empty()) {
    TASKQ_RETURN_IF_ERROR(ValidateQueueName(overrides.queue));
    options.queue = overrides.queue;
  }
  if (!overrides.policy.empty() && !ParsePolicy(overrides.policy, &options.policy)) {
    return Status::Invalid(
        fmt::format("--policy: must be pool, process or slurm, got '{}'", overrides.policy));
  }
  if (overrides.workers >= 0) options.workers = static_cast<uint32_t>(overrides.workers);
  if (overrides.max_parallel >= 0) {
    options.max_parallel = static_cast<uint32_t>(overrides.max_parallel);
  }
  if (!overrides.log_level.empty()) options.log_level = overrides.log_level;
  if (!overrides.state_dir.empty()) options.state_dir = overrides.state_dir;
  if (!overrides.user.empty()) options.user = overrides.user;
  if (overrides.keep_running) options.keep_running = true;
  *resolved = ResolveDefaults(options);
  // workers: 0 (one per CPU) on a machine with more CPUs than worker rows: use every row.
  if (options.workers == 0 && resolved->workers > kMaxWorkers) resolved->workers = kMaxWorkers;
  if (resolved->workers > kMaxWorkers) {
    // The segment's worker table has kMaxWorkers rows. Name the place in the file when the
    // value comes from there (the loader itself accepts a wider range).
    std::string where = "workers";
    if (overrides.workers < 0 && !config_path.empty()) {
      try {
        const YAML::Node node = YAML::LoadFile(config_path)["workers"];
        if (node.IsDefined() && node.Mark().line >= 0) {
          where = fmt::format("{}:{}:{}: workers", config_path, node.Mark().line + 1,
                              node.Mark().column + 1);
        }
      } catch (const YAML::Exception&) {
      }
    } else if (overrides.workers >= 0) {
      where = "--workers";
    }
    return Status::Invalid(
        fmt::format("{}: must be an integer 0..{} (0 = one per CPU), got {}; use a value in 0..{}",
                    where, kMaxWorkers, resolved->workers, kMaxWorkers));
  }
  return Status::Ok();
}

class Supervisor::Impl {
 public:
  Impl(std::string config_path, CommandLineOverrides overrides, Options resolved)
      : config_path_(std::move(config_path)),
        overrides_(std::move(overrides)),
        options_(std::move(resolved)),
        signals_(io_, SIGCHLD, SIGTERM, SIGINT),
        hup_(io_, SIGHUP),
        tick_(io_),
        ready_check_(io_),
        grace_(io_),
        watchdog_(io_),
        sweep_(io_),
        doorbell_(io_),
        control_(io_, [this](const ControlPeer& peer, const ControlRequest& request,
                             ControlReply* reply) { OnControlRequest(peer, request, reply); }) {}

  int Run() {
    Status prepared = Prepare();
    if (!prepared.ok()) {
      spdlog::error("{}", prepared.message());
      return prepared.exit_code() == 0 ? 1 : prepared.exit_code();
    }
    runners_ =
        std::make_unique<GroupRunners>(ExecutorContext{&io_, segment_.get(), self_exe(), getpid()});
    hooks_ = std::make_unique<FinishHooks>(&io_, segment_.get(), options_);
    SyncConfigGroups();
    groups_seen_ = segment_->header()->groups_seq.load();
    runners_->Reconcile(options_);
    WaitForSignals();
    WaitForSighup();
    ReadDoorbell();
    Tick();
    Sweep();
    CheckReady();
    ArmWatchdog();
    io_.run();
    hooks_->KillAll();
    Cleanup();
    spdlog::info("stopped");
    return 0;
  }

 private:
  Status Prepare() {
    TASKQ_RETURN_IF_ERROR(PrepareStateDir(options_));
    const bool another_boot = SegmentFromAnotherBoot(options_);
    if (another_boot) {
      spdlog::warn("segment {} is from an earlier boot: rebuilding the queue from the journal",
                   LocateSegment(options_).file_path);
      ::unlink(LocateSegment(options_).file_path.c_str());
    }
    TASKQ_RETURN_IF_ERROR(Segment::OpenAsSupervisor(options_, &segment_));
    if (!options_.metrics_listen.empty()) {
      metrics_ = std::make_unique<MetricsServer>(&io_, segment_.get(), options_.queue);
      TASKQ_RETURN_IF_ERROR(metrics_->Listen(options_.metrics_listen));
    }
    effective_config_ = options_.state_dir + "/effective.yaml";
    TASKQ_RETURN_IF_ERROR(WriteEffectiveConfig(options_, effective_config_));
    SegmentHeader* h = segment_->header();
    const uint64_t previous_heartbeat_us = h->heartbeat_us.load();
    h->epoch.fetch_add(1);
    // A killed predecessor left its ready flag set: this supervisor is ready only after recovery
    // and once its own workers are up (CheckReady).
    h->ready.store(0);
    h->owner_pid.store(getpid());
    h->started_at_us.store(NowUs());
    h->heartbeat_us.store(NowUs());
    Publish(options_);
    // A segment this start created holds nothing yet (no client submits before `accepting`;
    // a journal replay repairs what it brought): a scan would only make every page of the slot
    // directory resident (1.5 MiB of RSS at the default capacity, docs/PERFORMANCE.md).
    if (segment_->created()) {
      WarnOfOlderSegments(options_);
    } else {
      for (const std::string& fix : segment_->Repair()) spdlog::warn("segment repaired: {}", fix);
    }
    TASKQ_RETURN_IF_ERROR(StartJournal(another_boot || segment_->created()));
    adopted_ = std::make_unique<AdoptedRunners>(&io_, segment_.get(), [this] {
      if (stopping_ && Done()) io_.stop();
    });
    for (const KeptTask& kept : RecoverOrphans(*segment_, self_exe(), previous_heartbeat_us))
      adopted_->Adopt(kept);
    segment_->ForgetTablePages();  // what the repair, the journal and the search above touched
    TASKQ_RETURN_IF_ERROR(OpenDoorbell());
    TASKQ_RETURN_IF_ERROR(ListenForControl());
    h->accepting.store(1);
    spdlog::info("serving queue '{}' from {} (policy {}, {} {})", options_.queue,
                 LocateSegment(options_).Describe(), PolicyName(options_.policy),
                 options_.policy == Policy::kPool    ? options_.workers
                 : options_.policy == Policy::kSlurm ? options_.slurm.max_jobs
                                                     : options_.max_parallel,
                 options_.policy == Policy::kPool    ? "workers"
                 : options_.policy == Policy::kSlurm ? "max_jobs"
                                                     : "max_parallel (0 = unbounded)");
    return Status::Ok();
  }

  // Durability: rebuild a fresh table from the journal, then compact it (docs/RELIABILITY.md).
  Status StartJournal(bool rebuild) {
    JournalReplay replay;
    const Status started = segment_->StartJournal(options_, rebuild, &replay);
    if (!started.ok()) {
      return Status::Unavailable(
          fmt::format("durability {}: {}; fix the state directory {} or "
                      "set `durability: memory`",
                      DurabilityName(options_.durability), started.message(), options_.state_dir));
    }
    if (rebuild && replay.entries > 0) {
      spdlog::warn(
          "journal: rebuilt {} tasks from {} entries ({} running when the machine went; {} torn "
          "bytes after the last whole entry dropped, {} entries fit no slot)",
          replay.tasks, replay.entries, replay.running.size(), replay.torn_bytes, replay.skipped);
    }
    return Status::Ok();
  }

  // The settings clients and runners read from the header.
  void Publish(const Options& o) {
    SegmentHeader* h = segment_->header();
    h->policy.store(static_cast<uint32_t>(o.policy));
    h->workers_wanted.store(o.policy == Policy::kPool ? o.workers : 0);
    h->max_parallel.store(o.max_parallel);
    h->retain_count.store(o.retain_count);
    h->retain_age_ms.store(o.retain_age_ms);
    h->default_timeout_ms.store(o.default_timeout_ms);
    h->default_retries.store(o.default_retries);
    // The `default` group is the top level: its row mirrors the configuration.
    GroupEntry& default_group = h->groups[0];
    default_group.policy.store(static_cast<uint32_t>(o.policy));
    default_group.workers.store(o.workers);
    default_group.max_parallel.store(o.max_parallel);
    h->groups_seq.fetch_add(1);
  }

  // The configuration's `groups:` go into the table (added or updated); groups the file
  // defined before and no longer does are removed once they are empty. Groups added at run
  // time (`taskq group add`) are the operator's and stay.
  void SyncConfigGroups() {
    for (const GroupConfig& group : options_.groups) {
      GroupSettings settings{group.policy, group.workers, group.max_parallel};
      Status added = segment_->AddGroup(group.name, settings, /*from_config=*/true,
                                        /*update=*/true);
      if (!added.ok()) spdlog::error("group '{}': {}", group.name, added.message());
    }
    for (const GroupInfo& existing : segment_->Groups()) {
      if (!existing.from_config) continue;
      const bool still = std::any_of(options_.groups.begin(), options_.groups.end(),
                                     [&](const GroupConfig& g) { return g.name == existing.name; });
      if (still) continue;
      Status removed = segment_->RemoveGroup(existing.name);
      if (!removed.ok()) {
        spdlog::warn("group '{}' left the configuration but stays for now: {}", existing.name,
                     removed.message());
      }
    }
  }

  // Every 50 ms: start runners for a changed group table; look at the tasks that joined the held
  // list (or walk it all when asked to), then release the delays that fell due
  // (daemon/held_walk.h), waking sooner for a delay that ends sooner than the tick.
  void Sweep() {
    if (!stopping_) {
      const uint32_t seq = segment_->header()->groups_seq.load();
      if (seq != groups_seen_) {
        groups_seen_ = seq;
        runners_->Reconcile(options_);
      }
      const uint64_t now = NowUs();
      if (held_walks_.WalkDue(segment_->HeldListChanged(), now)) {
        HeldSweep held = segment_->SweepHeld();
        if (held.ready > 0) runners_->OnWork();
        held_walks_.Walked(std::move(held), now);
      } else {
        if (segment_->HeldJoinsLogged()) {
          HeldSweep joined = segment_->StepHeldJoins();
          if (joined.ready > 0) runners_->OnWork();
          held_walks_.Joined(std::move(joined));
        }
        if (const std::vector<HeldDelay> due = held_walks_.TakeDue(now); !due.empty()) {
          const HeldSweep released = segment_->ReleaseDue(due);
          if (released.ready > 0) runners_->OnWork();
          held_walks_.StillWaiting(released.delays);
        }
      }
    }
    // Stopping, no delay is released: the plain tick (an overdue one would make it 1 ms).
    const std::chrono::microseconds tick = std::chrono::milliseconds(50);
    sweep_.expires_after(stopping_ ? tick : held_walks_.Sleep(NowUs(), tick));
    sweep_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Sweep();
    });
  }

  static std::string self_exe() {
    std::error_code ec;
    auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("taskqd") : path.string();
  }

  // Users other than the daemon's submit, cancel and administer through the control socket:
  // the queue's group may connect (0660), nobody else (0600).
  Status ListenForControl() {
    gid_t gid = static_cast<gid_t>(-1);
    TASKQ_RETURN_IF_ERROR(LookUpGroup(options_.group, &gid));
    const mode_t mode = options_.group.empty() ? 0600 : 0660;
    return control_.Listen(ControlSocketPath(options_.state_dir), mode, gid);
  }

  void OnControlRequest(const ControlPeer& peer, const ControlRequest& request,
                        ControlReply* reply) {
    DaemonActions actions;
    actions.segment = segment_.get();
    actions.options = &options_;
    actions.on_work = [this] {
      if (!stopping_) runners_->OnWork();
    };
    actions.shutdown = [this] { asio::post(io_, [this] { BeginShutdown(); }); };
    actions.reload = [this] { asio::post(io_, [this] { Reload(); }); };
    actions.kill = [this](const TaskRecord& running, int signal, bool escalate) {
      // Slurm's executors see the kill mark on their next poll and scancel; a pool worker that
      // has not started the command yet kills it as it does (Segment::SetChild).
      if (!adopted_->Kill(running, signal, escalate, options_.kill_grace_ms) &&
          !runners_->Kill(running, signal, escalate)) {
        spdlog::debug("task {}: no process of this supervisor to signal", running.id);
      }
    };
    actions.watch = [this](uint64_t id) { hooks_->Watch(id); };
    actions.pause = [this](const TaskRecord& running, bool pause) {
      return adopted_->Pause(running, pause) || runners_->Pause(running, pause);
    };
    if (stopping_ && request.op == ControlOp::kSubmit) {
      reply->body["code"] = static_cast<int>(StatusCode::kUnavailable);
      reply->body["message"] = fmt::format(
          "taskqd of queue '{}' is shutting down: submit after it restarts", options_.queue);
      return;
    }
    HandleControlRequest(actions, peer, request, reply);
  }

  Status OpenDoorbell() {
    const std::string path = DoorbellPath(options_.state_dir);
    ::unlink(path.c_str());
    // Only the daemon's user rings it: other users talk to the control socket.
    const mode_t mode = 0600;
    if (::mkfifo(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0) {
      return Status::Unavailable(
          fmt::format("cannot create doorbell {}: {}", path, std::strerror(errno)));
    }
    TASKQ_RETURN_IF_ERROR(GiveToGroup(path, options_));
    int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      return Status::Unavailable(
          fmt::format("cannot open doorbell {}: {}", path, std::strerror(errno)));
    }
    doorbell_.assign(fd);
    return Status::Ok();
  }

  void ReadDoorbell() {
    doorbell_.async_read_some(asio::buffer(doorbell_buffer_),
                              [this](const boost::system::error_code& ec, size_t n) {
                                if (ec) return;
                                bool work = false;
                                for (size_t i = 0; i < n; ++i) {
                                  switch (doorbell_buffer_[i]) {
                                    case kDoorbellWork:
                                      work = true;
                                      break;
                                    case kDoorbellPing:
                                      segment_->AnswerPing();
                                      break;
                                    case kDoorbellShutdown:
                                      spdlog::info("shutdown requested by a client");
                                      BeginShutdown();
                                      break;
                                    default:
                                      break;
                                  }
                                }
                                if (work && !stopping_) runners_->OnWork();
                                hooks_->Poll();
                                ReadDoorbell();
                              });
  }

  void WaitForSignals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGCHLD) {
        Reap();
      } else {
        spdlog::info("{} received: draining", signal == SIGTERM ? "SIGTERM" : "SIGINT");
        BeginShutdown();
      }
      WaitForSignals();
    });
  }

  void WaitForSighup() {
    hup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      Reload();
      WaitForSighup();
    });
  }

  // SIGCHLDs merge: reap every exited child each time.
  void Reap() {
    for (;;) {
      int status = 0;
      rusage usage{};
      pid_t pid = wait4(-1, &status, WNOHANG, &usage);
      if (pid <= 0) break;
      bool handled = hooks_->OnChildExit(pid, status) || runners_->OnChildExit(pid, status, usage);
      if (!handled) spdlog::debug("reaped unknown child {}", pid);
    }
    if (stopping_ && Done()) io_.stop();
  }

  void Tick() {
    SegmentHeader* h = segment_->header();
    h->heartbeat_us.store(NowUs());
    // Clients find the control socket and the doorbell through the header's copy (only this
    // user writes the segment; the check guards against a bug, not a member).
    if (segment_->state_dir() != options_.state_dir) {
      spdlog::warn("segment: state_dir in the header was overwritten ('{}'); restored",
                   segment_->state_dir());
      std::snprintf(h->state_dir, kStateDirBytes, "%s", options_.state_dir.c_str());
    }
    UpdateRate();
    // durability flush: what changed in the last second reaches the disk now.
    if (const Status synced = segment_->MakeDurable(); !synced.ok())
      spdlog::warn("{}", synced.message());
    if (segment_->JournalWantsCompaction()) {
      if (const Status compacted = segment_->CompactJournal(); !compacted.ok()) {
        spdlog::warn("journal: compaction failed: {}", compacted.message());
      }
    }
    if (!stopping_) runners_->OnTick();
    hooks_->Poll();
    NotifyStatus(StatusLine());
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  void UpdateRate() {
    const uint64_t now = MonotonicUs();
    const uint64_t finished = segment_->header()->finished_total;
    rate_samples_.emplace_back(now, finished);
    while (rate_samples_.size() > 11) rate_samples_.pop_front();
    auto [t0, f0] = rate_samples_.front();
    uint64_t rate = now > t0 ? (finished - f0) * 1000000000ull / (now - t0) : 0;
    segment_->header()->rate_milli.store(rate);
  }

  // The STATUS= text systemd shows. Its counts scan every slot under the lock, so they are taken
  // only for a service manager that listens (sd_notify does nothing without NOTIFY_SOCKET) and
  // only when a task moved since the last count; the pages the scan touched are dropped again,
  // so an idle daemon's RSS is not the slot table and its lock stays free.
  std::string StatusLine() {
    if (std::getenv("NOTIFY_SOCKET") == nullptr) return {};
    SegmentHeader* h = segment_->header();
    auto counter = [](uint64_t& value) {  // written under the lock; a stale read only recounts
      return std::atomic_ref<uint64_t>(value).load(std::memory_order_relaxed);
    };
    const std::array<uint64_t, 5> moved = {counter(h->submitted_total), counter(h->finished_total),
                                           counter(h->finished_live), h->running_tasks.load(),
                                           h->done_seq.load()};
    if (!status_counted_ || moved != status_moved_) {
      status_counts_ = segment_->Count(/*by_group=*/false);
      status_moved_ = moved;
      status_counted_ = true;
      segment_->ForgetTablePages();
    }
    const StateCounts& c = status_counts_;
    std::string line =
        fmt::format("policy {}, {} {}, queue depth {}, running {}, done {}, failed {}",
                    PolicyName(options_.policy), runners_->ProcessCount(),
                    options_.policy == Policy::kPool    ? "workers"
                    : options_.policy == Policy::kSlurm ? "slurm jobs"
                                                        : "task processes",
                    c.by_state[static_cast<int>(TaskState::kQueued)],
                    c.by_state[static_cast<int>(TaskState::kRunning)],
                    c.by_state[static_cast<int>(TaskState::kSucceeded)],
                    c.by_state[static_cast<int>(TaskState::kFailed)] +
                        c.by_state[static_cast<int>(TaskState::kTimedOut)] +
                        c.by_state[static_cast<int>(TaskState::kLost)]);
    if (runners_->GroupCount() > 1) line += fmt::format(", {} groups", runners_->GroupCount());
    return line;
  }

  // READY=1 only once the policy can run tasks (pool: every worker has started), at start and
  // after a reload that started new workers.
  void CheckReady(const char* what = "ready") {
    if (stopping_) return;
    if (runners_->Ready()) {
      segment_->header()->ready.store(1);
      NotifyReady(StatusLine());
      spdlog::info("{}", what);
      return;
    }
    ready_check_.expires_after(std::chrono::milliseconds(5));
    ready_check_.async_wait([this, what](const boost::system::error_code& ec) {
      if (!ec) CheckReady(what);
    });
  }

  void ArmWatchdog() {
    uint64_t interval = WatchdogIntervalUs();
    if (interval == 0) return;
    // Pinged from the loop itself, so a stuck loop stops the pings and systemd notices.
    NotifyWatchdog();
    watchdog_.expires_after(std::chrono::microseconds(interval / 2));
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ArmWatchdog();
    });
  }

  void Reload();

  // Shutdown may end the loop: every child reaped, or with keep_running every child left keeps
  // an exec command (adopted runners too) and goes on without this supervisor.
  bool Done() const {
    if (options_.keep_running) return runners_->OnlyKeepersLeft();
    return runners_->Stopped() && adopted_->empty();
  }

  void BeginShutdown() {
    if (stopping_) {
      spdlog::warn("second stop request: killing running tasks now");
      KillEverything(/*spare_keepers=*/false);
      return;
    }
    stopping_ = true;
    ready_check_.cancel();
    segment_->header()->accepting.store(0);
    NotifyStopping("stopping: " + StatusLine());
    runners_->BeginShutdown();
    if (Done()) {
      io_.stop();
      return;
    }
    grace_.expires_after(std::chrono::milliseconds(options_.shutdown_grace_ms));
    grace_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::warn("shutdown_grace ({} ms) is over: killing running tasks{}",
                   options_.shutdown_grace_ms,
                   options_.keep_running ? " (keep_running: not the exec tasks)" : "");
      KillEverything(/*spare_keepers=*/options_.keep_running);
    });
  }

  void KillEverything(bool spare_keepers) {
    if (spare_keepers) {
      runners_->KillAllButKeepers();
    } else {
      runners_->KillAll();
      adopted_->KillAll();
    }
    // An executor with no child left to reap (slurm: only jobs) is stopped by KillAll itself.
    if (spare_keepers ? runners_->OnlyKeepersLeft() : runners_->Stopped()) io_.stop();
  }

  void Cleanup() {
    (void)segment_->MakeDurable();
    SegmentHeader* h = segment_->header();
    h->ready.store(0);
    h->accepting.store(0);
    h->owner_pid.store(0);
    for (uint32_t i = 0; i < kMaxWorkers; ++i) {
      h->workers[i].pid.store(0);
      ApplyWorkerEvent(h->workers[i], WorkerEvent::kReset);
    }
    boost::system::error_code ignored;
    doorbell_.close(ignored);
    ::unlink(DoorbellPath(options_.state_dir).c_str());
    if (metrics_) metrics_->Close();
    control_.Close();
    ::unlink(ControlSocketPath(options_.state_dir).c_str());
    segment_->WakeEveryWaiter();  // waiters re-check and see that no daemon runs
  }

  std::string config_path_;
  CommandLineOverrides overrides_;
  Options options_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  asio::steady_timer tick_;
  asio::steady_timer ready_check_;
  asio::steady_timer grace_;
  asio::steady_timer watchdog_;
  asio::steady_timer sweep_;
  HeldWalkSchedule held_walks_;
  asio::posix::stream_descriptor doorbell_;
  char doorbell_buffer_[256];
  ControlServer control_;
  std::unique_ptr<Segment> segment_;
  std::string effective_config_;
  // StatusLine's last count and the header counters it was taken at.
  bool status_counted_ = false;
  std::array<uint64_t, 5> status_moved_{};
  StateCounts status_counts_;
  std::unique_ptr<GroupRunners> runners_;    // one executor per group
  std::unique_ptr<FinishHooks> hooks_;       // on_finish: commands run after tasks end
  std::unique_ptr<AdoptedRunners> adopted_;  // runners the previous supervisor left running
  std::unique_ptr<MetricsServer> metrics_;   // metrics_listen: HTTP endpoint; null when off
  uint32_t groups_seen_ = 0;                 // groups_seq at the last Reconcile
  std::deque<std::pair<uint64_t, uint64_t>> rate_samples_;
  bool stopping_ = false;
};

}  // namespace taskq

namespace taskq {

// SIGHUP: re-read the file. Runner settings (policy, workers, limits, ...) take effect by
// replacing the executor: the old one stops taking tasks and its workers finish what they run
// (no task is lost or run twice); the new one starts at once. Identity settings need a restart.
void Supervisor::Impl::Reload() {
  if (stopping_) return;
  NotifyReloading();
  spdlog::info("SIGHUP received: reloading {}",
               config_path_.empty() ? "(no file: built-in defaults)" : config_path_);
  Options next;
  Status loaded = LoadEffectiveOptions(config_path_, overrides_, &next);
  if (!loaded.ok()) {
    spdlog::error("reload failed, the running configuration stays in force: {}", loaded.message());
    NotifyReady(StatusLine());
    return;
  }
  const std::vector<std::string> restart_only = RestartOnlyChanges(options_, next);
  KeepRestartOnlyFields(options_, &next);
  // Clients check submissions against the daemon's rules in this file (Client::DaemonRules), so
  // a reload that cannot write it (a full disk) fails as a whole: the daemon and its clients
  // keep agreeing on the old rules instead of the daemon refusing what clients accepted.
  const Status written = WriteEffectiveConfig(next, effective_config_);
  if (!written.ok()) {
    spdlog::error("reload failed, the running configuration stays in force: {}", written.message());
    NotifyReady(StatusLine());
    return;
  }
  for (const std::string& field : restart_only) {
    spdlog::warn("reload: '{}' changed but needs a restart; keeping the running value", field);
  }
  options_ = next;
  hooks_->Apply(options_);
  Publish(options_);
  spdlog::set_level(spdlog::level::from_str(options_.log_level));
  // Each group's executor takes the change live when it can (pool: only the worker count
  // changed; process: same policy); otherwise it is replaced and the old one drains: its
  // runners take no more tasks and finish the one they run. A task is claimed exactly once.
  SyncConfigGroups();
  groups_seen_ = segment_->header()->groups_seq.load();
  runners_->Reconcile(options_);
  spdlog::info("configuration reloaded: policy {}, workers {}, max_parallel {}",
               PolicyName(options_.policy), options_.workers, options_.max_parallel);
  // READY=1 again once the (new) runners are up.
  CheckReady("ready after reload");
}

Supervisor::Supervisor(std::string config_path, CommandLineOverrides overrides, Options resolved)
    : impl_(std::make_unique<Impl>(std::move(config_path), std::move(overrides),
                                   std::move(resolved))) {}

Supervisor::~Supervisor() = default;

int Supervisor::Run() { return impl_->Run(); }

}  // namespace taskq
