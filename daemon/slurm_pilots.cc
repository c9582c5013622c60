// The `slurm` policy in pilot mode (issue 19, after HyperQueue's automatic allocation): instead of
// one batch job per task, taskqd submits pilot jobs while the group has queued work; each runs
// taskq-worker, which connects back over TCP (daemon/pilot_listener.*), proves it holds its
// pilot's secret, and is leased up to `slurm.pilot_slots` tasks at a time. Results and output
// come back on the same connection; the pilot beats every heartbeat_timeout/4.
//
// A pilot's life: submitting --sbatch ok--> queued in Slurm --hello--> connected --idle and no
// leases--> stopping (told to exit) --> gone. Its job ending before a hello is a failed start;
// `max_failed_starts` of them in a row pause the group (circuit breaker; `taskq group resume`
// clears it). A connected pilot that goes silent for heartbeat_timeout, closes its connection or
// whose job ends loses its leases: each task is requeued within its retries, else lost, with a
// reason naming the job and the node. A lease's deadline and a cancel are sent as `kill`.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include "common/deadline.h"
#include "common/frame_connection.h"
#include "common/json_text.h"
#include "common/pilot_protocol.h"
#include "common/slurm_details.h"
#include "common/spawn.h"
#include "daemon/executor.h"
#include "daemon/fork_child.h"
#include "daemon/helper_output.h"
#include "daemon/pilot_listener.h"
#include "daemon/pilot_placement.h"
#include "daemon/slurm_commands.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

constexpr int kMissingPollsForGone = 2;

enum class PilotState { kSubmitting, kQueued, kConnected, kStopping, kGone };

const char* PilotStateName(PilotState s) {
  switch (s) {
    case PilotState::kSubmitting:
      return "submitting";
    case PilotState::kQueued:
      return "queued";
    case PilotState::kConnected:
      return "connected";
    case PilotState::kStopping:
      return "stopping";
    case PilotState::kGone:
      return "gone";
  }
  return "?";
}

struct Pilot {
  uint32_t number = 0;
  std::string secret;
  uint32_t job_id = 0;
  PilotState state = PilotState::kSubmitting;
  uint64_t submitted_us = 0;
  uint64_t start_us = 0;  // from squeue (to the second); 0 until seen
  uint64_t last_seen_us = 0;
  std::string node;
  std::string recorded_node;  // the node last written to <state_dir>/slurm/pilot-nodes
  std::string slurm_state;
  std::shared_ptr<FrameConnection> connection;
  std::set<uint64_t> leases;
  bool cancel_sent = false;
  int missing_polls = 0;
  uint64_t known_since_poll = 0;
};

struct Lease {
  uint32_t slot = 0;
  uint64_t id = 0;
  uint32_t pilot = 0;
  uint64_t timeout_ms = 0;
  uint64_t deadline_us = 0;
  bool cancel_requested = false;
  bool timeout_fired = false;
  bool kill_sent = false;
  int out_fd = -1;
  int err_fd = -1;
};

enum class HelperKind { kSbatch, kSqueue, kScancel };

struct Helper {
  HelperKind kind = HelperKind::kSqueue;
  uint32_t pilot = 0;
  uint64_t poll_seq = 0;
  std::string out_path;
  std::string err_path;
  std::string env_file;
};

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

class SlurmPilotExecutor : public Executor {
 public:
  SlurmPilotExecutor(const ExecutorContext& context, const Options& options)
      : context_(context),
        options_(options),
        timer_(*context.io),
        listener_(
            context.io,
            [this](uint32_t number, const std::string& secret) {
              return Authenticate(number, secret);
            },
            [this](uint32_t number, std::shared_ptr<FrameConnection> c, const nlohmann::json& j) {
              OnPilotConnected(number, std::move(c), j);
            }) {
    worker_ = context_.self_exe.substr(0, context_.self_exe.rfind('/') + 1) + "taskq-worker";
  }

  ~SlurmPilotExecutor() override {
    listener_.Close();
    for (auto& [number, pilot] : pilots_) {
      if (pilot.connection) pilot.connection->Close();
    }
    for (auto& [id, lease] : leases_) {
      CloseFd(&lease.out_fd);
      CloseFd(&lease.err_fd);
    }
    if (!helper_dir_.empty()) ::rmdir(helper_dir_.c_str());
  }

  void Start() override {
    const std::string parent = context_.segment->state_dir() + "/slurm";
    ::mkdir(parent.c_str(), 0700);
    std::string pattern = fmt::format("{}/group{}-XXXXXX", parent, context_.group);
    if (::mkdtemp(pattern.data()) != nullptr) helper_dir_ = pattern;
    group_name_ = context_.segment->GroupName(context_.group);
    status_path_ = fmt::format("{}/pilots-group{}.json", parent, context_.group);
    const Status listening = listener_.Listen(options_.slurm.pilot_listen);
    if (!listening.ok()) {
      spdlog::error("group '{}': {}; no pilot can connect", group_name_, listening.message());
    } else {
      spdlog::info("group '{}': slurm pilots connect to {}", group_name_, listener_.advertised());
    }
    listening_ = listening.ok();
    WriteStatus();
    ArmTimer();
    OnWork();
  }

  void OnWork() override {
    Place();
    MaybeSubmitPilot();
  }

  bool OnChildExit(pid_t pid, int wait_status, const rusage&) override {
    auto it = helpers_.find(pid);
    if (it == helpers_.end()) return false;
    Helper helper = it->second;
    helpers_.erase(it);
    const std::string out = TakeHelperOutput(helper.out_path);
    const std::string err = TakeHelperOutput(helper.err_path);
    if (!helper.env_file.empty()) ::unlink(helper.env_file.c_str());
    const bool ok = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    const std::string why = !err.empty() ? FirstLineOf(err)
                            : WIFSIGNALED(wait_status)
                                ? fmt::format("killed by {}", SignalName(WTERMSIG(wait_status)))
                                : fmt::format("exit code {}", WEXITSTATUS(wait_status));
    switch (helper.kind) {
      case HelperKind::kSbatch:
        OnSbatchExit(helper.pilot, ok, out, why);
        break;
      case HelperKind::kSqueue:
        if (ok)
          OnSqueue(helper.poll_seq, out);
        else if (!squeue_failing_)
          spdlog::warn("squeue (pilots) failed: {}", why);
        squeue_failing_ = !ok;
        break;
      case HelperKind::kScancel:
        if (!ok) spdlog::warn("scancel (pilots) failed: {}", why);
        break;
    }
    OnWork();
    return true;
  }

  void OnTick() override {
    if (breaker_open_ && !GroupPaused()) {
      breaker_open_ = false;
      failed_starts_ = 0;
      spdlog::info("group '{}' resumed: submitting slurm pilots again", group_name_);
    }
    OnWork();
  }

  void BeginShutdown() override {
    shutting_down_ = true;
    std::vector<uint32_t> cancel;
    for (auto& [number, pilot] : pilots_) {
      if (pilot.state == PilotState::kConnected && pilot.leases.empty()) Stop(pilot);
      if (pilot.state == PilotState::kQueued && !pilot.cancel_sent) {
        pilot.cancel_sent = true;
        cancel.push_back(pilot.job_id);
      }
    }
    // Claimed but never leased: they did not run.
    for (const ClaimedTask& claimed : unplaced_) {
      context_.segment->RunnerDied(claimed.slot, claimed.record.id,
                                   "taskqd stopped before a pilot took it", 0);
    }
    unplaced_.clear();
    if (!cancel.empty()) Scancel(cancel);
  }

  void KillAll() override {
    std::vector<uint32_t> jobs;
    for (auto& [number, pilot] : pilots_) {
      if (pilot.job_id != 0 && pilot.state != PilotState::kGone) jobs.push_back(pilot.job_id);
      LoseLeases(pilot, fmt::format("{} ({} cancelled)", kKilledAtShutdown, Where(pilot)));
      if (pilot.connection) pilot.connection->Close();
      pilot.state = PilotState::kGone;
    }
    if (!jobs.empty()) Scancel(jobs);
    timer_.cancel();
    listener_.Close();
  }

  bool Stopped() const override { return leases_.empty() && helpers_.empty(); }
  bool Ready() const override { return true; }
  uint32_t ProcessCount() const override { return static_cast<uint32_t>(leases_.size()); }
  // The segment marked the task killed; the next poll sees the mark and sends its pilot a kill.
  bool Kill(const TaskRecord& running, int, bool) override {
    return leases_.count(running.id) != 0;
  }
  // A pilot runs its tasks on a node of the cluster: nothing here can stop one there.
  bool Pause(const TaskRecord&, bool) override { return false; }

  bool ApplyLive(const Options& next) override {
    if (shutting_down_ || next.policy != Policy::kSlurm || next.slurm.mode != SlurmMode::kPilot ||
        next.slurm.pilot_listen != options_.slurm.pilot_listen) {
      return false;
    }
    options_ = next;
    OnWork();
    return true;
  }

 private:
  std::string Where(const Pilot& pilot) const {
    return fmt::format("pilot {}, slurm job {} on {}", pilot.number, pilot.job_id,
                       pilot.node.empty() ? "an unknown node" : pilot.node);
  }

  bool GroupPaused() {
    for (const GroupInfo& g : context_.segment->Groups()) {
      if (g.index == context_.group) return g.paused;
    }
    return false;
  }

  // --- pilots: submission, authentication, connection ---

  // One more pilot when the group's queued work exceeds its pilots' free slots (a scan of the
  // slot table: only reached while fewer than max_pilots live and fewer than backlog wait).
  void MaybeSubmitPilot() {
    if (shutting_down_ || breaker_open_ || !listening_ || helper_dir_.empty()) return;
    uint32_t alive = 0, waiting = 0, free_slots = 0;
    for (const auto& [number, pilot] : pilots_) {
      if (pilot.state == PilotState::kGone) continue;
      ++alive;
      if (pilot.state == PilotState::kSubmitting || pilot.state == PilotState::kQueued) {
        ++waiting;
        free_slots += options_.slurm.pilot_slots;
      } else if (pilot.state == PilotState::kConnected &&
                 pilot.leases.size() < options_.slurm.pilot_slots) {  // slots may shrink live
        free_slots += options_.slurm.pilot_slots - static_cast<uint32_t>(pilot.leases.size());
      }
    }
    if (alive >= options_.slurm.max_pilots || waiting >= options_.slurm.backlog) return;
    const uint64_t demand =
        unplaced_.size() + context_.segment->Count(true).queued_by_group[context_.group];
    if (GroupPaused() || demand <= free_slots) return;
    SubmitPilot();
  }

  void SubmitPilot() {
    Pilot pilot;
    pilot.number = ++pilot_seq_;
    pilot.secret = NewPilotSecret();
    pilot.submitted_us = context_.os->NowUs();
    if (pilot.secret.empty()) {
      spdlog::error("group '{}': no randomness for a pilot secret (getrandom)", group_name_);
      return;
    }
    // The secret reaches the job through sbatch --export-file (Slurm carries it in the job's
    // environment, as it does the rest of it), never on a command line or a shared filesystem.
    const std::string env_file = fmt::format("{}/pilot-{}.env", helper_dir_, pilot.number);
    const std::string text =
        fmt::format("TASKQ_PILOT_ADDRESS={}{}TASKQ_PILOT_ID={}{}TASKQ_PILOT_SECRET={}{}",
                    listener_.advertised(), '\0', pilot.number, '\0', pilot.secret, '\0');
    const int fd = ::open(env_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const bool written =
        fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ::close(fd);
    if (!written) {
      spdlog::error("group '{}': cannot write {}: {}", group_name_, env_file, std::strerror(errno));
      ::unlink(env_file.c_str());
      return;
    }
    Helper helper;
    helper.kind = HelperKind::kSbatch;
    helper.pilot = pilot.number;
    helper.env_file = env_file;
    const std::string log =
        fmt::format("{}/pilot-{}-%j.out", context_.segment->state_dir() + "/slurm", pilot.number);
    std::vector<std::string> argv = {
        SlurmTool(options_.slurm, "sbatch"),
        "--parsable",
        "--job-name=" + SlurmJobName(options_.queue + "-pilot"),
        fmt::format("--comment=taskq pilot {} of group {}", pilot.number, group_name_),
        "--output=" + log,
        "--error=" + log,
        "--chdir=/",
        "--export=ALL",
        "--export-file=" + env_file,
        "--no-requeue",
        "--ntasks=1",
        fmt::format("--cpus-per-task={}",
                    options_.slurm.pilot_slots * options_.slurm.cpus_per_task),
        "--time=" + SlurmTimeLimit(options_.slurm.pilot_time_ms)};
    if (!options_.slurm.partition.empty()) {
      argv.push_back("--partition=" + options_.slurm.partition);
    }
    argv.insert(argv.end(), options_.slurm.sbatch_args.begin(), options_.slurm.sbatch_args.end());
    argv.push_back(fmt::format("--wrap=exec {} --idle-timeout-ms {}", ShellQuote({worker_}),
                               options_.slurm.idle_timeout_ms));
    std::string why;
    const uint32_t number = pilot.number;
    pilots_[number] = std::move(pilot);
    if (!RunHelper(argv, helper, &why)) {
      ::unlink(env_file.c_str());
      pilots_[number].state = PilotState::kGone;
      FailedStart(number, why);
    }
  }

  void OnSbatchExit(uint32_t number, bool ok, const std::string& out, const std::string& why) {
    auto it = pilots_.find(number);
    if (it == pilots_.end()) return;
    Pilot& pilot = it->second;
    uint32_t job_id = 0;
    if (ok && ParseSbatchOutput(out, &job_id)) {
      pilot.job_id = job_id;
      pilot.known_since_poll = poll_seq_ + 1;
      if (pilot.state == PilotState::kSubmitting) pilot.state = PilotState::kQueued;
      spdlog::info("group '{}': pilot {} submitted as slurm job {}", group_name_, number, job_id);
      if (shutting_down_) {
        pilot.cancel_sent = true;
        Scancel({job_id});
      }
      return;
    }
    pilot.state = PilotState::kGone;
    FailedStart(number, "sbatch refused the pilot job: " + (ok ? FirstLineOf(out) : why));
  }

  // Circuit breaker: `max_failed_starts` pilots in a row that never connected pause the group.
  void FailedStart(uint32_t number, const std::string& why) {
    ++failed_starts_;
    last_failure_ = fmt::format("pilot {}: {}", number, why);
    spdlog::warn("group '{}': {} ({} failed pilot starts in a row)", group_name_, last_failure_,
                 failed_starts_);
    if (failed_starts_ < options_.slurm.max_failed_starts || breaker_open_) return;
    breaker_open_ = true;
    const Status paused = context_.segment->SetGroupPaused(group_name_, true);
    spdlog::error(
        "group '{}' paused: {} slurm pilots in a row failed to start (last: {}); fix the cause, "
        "then run `taskq group resume {}`{}",
        group_name_, failed_starts_, last_failure_, group_name_,
        paused.ok() ? "" : " (pausing failed: " + paused.message() + ")");
    WriteStatus();
  }

  bool Authenticate(uint32_t number, const std::string& secret) {
    auto it = pilots_.find(number);
    if (it == pilots_.end()) return false;
    const Pilot& pilot = it->second;
    const bool may_connect =
        pilot.state == PilotState::kQueued || pilot.state == PilotState::kSubmitting;
    return SecretsEqual(secret, pilot.secret) && may_connect;
  }

  void OnPilotConnected(uint32_t number, std::shared_ptr<FrameConnection> connection,
                        const nlohmann::json& hello) {
    Pilot& pilot = pilots_[number];
    pilot.connection = connection;
    pilot.state = PilotState::kConnected;
    pilot.last_seen_us = context_.os->NowUs();
    pilot.secret.clear();  // used once: a second connection with it is refused
    if (pilot.node.empty() && hello.contains("node") && hello["node"].is_string()) {
      pilot.node = hello["node"].get<std::string>().substr(0, 64);  // shown only, never trusted
    }
    failed_starts_ = 0;
    connection->Rebind([this, number](Frame& frame) { OnFrame(number, frame); },
                       [this, number](const std::string& why) { OnClosed(number, why); });
    connection->Send(EncodeJsonFrame({{"type", "welcome"},
                                      {"heartbeat_ms", options_.slurm.heartbeat_timeout_ms / 4},
                                      {"kill_grace_ms", options_.kill_grace_ms}}));
    spdlog::info("group '{}': {} connected from {}", group_name_, Where(pilot), connection->peer());
    if (shutting_down_) Stop(pilot);
    OnWork();
    WriteStatus();
  }

  void OnFrame(uint32_t number, Frame& frame) {
    Pilot& pilot = pilots_[number];
    pilot.last_seen_us = context_.os->NowUs();
    if (frame.kind == 'O' || frame.kind == 'E') {
      auto it = leases_.find(frame.task_id);
      if (it == leases_.end() || it->second.pilot != number) return;
      const int fd = frame.kind == 'O' ? it->second.out_fd : it->second.err_fd;
      if (fd >= 0 && ::write(fd, frame.data.data(), frame.data.size()) < 0) {
        spdlog::warn("task {}: cannot write its log: {}", frame.task_id, std::strerror(errno));
      }
      return;
    }
    const std::string type = frame.json["type"].get<std::string>();
    if (type == "result") {
      OnResult(pilot, frame.json);
    } else if (type == "idle") {
      if (pilot.leases.empty() && pilot.state == PilotState::kConnected) Stop(pilot);
    }
  }

  void Stop(Pilot& pilot) {
    pilot.state = PilotState::kStopping;
    if (pilot.connection) pilot.connection->Send(EncodeJsonFrame({{"type", "stop"}}));
    spdlog::info("group '{}': {} told to exit (idle or shutting down)", group_name_, Where(pilot));
  }

  void OnClosed(uint32_t number, const std::string& why) {
    Pilot& pilot = pilots_[number];
    pilot.connection.reset();
    if (pilot.state == PilotState::kStopping && pilot.leases.empty()) {
      pilot.state = PilotState::kGone;
      return;
    }
    LosePilot(pilot, fmt::format("connection to {} lost ({})", Where(pilot), why));
  }

  // The pilot is gone or cannot be trusted to finish: its leases are lost (retries requeue).
  void LosePilot(Pilot& pilot, const std::string& why) {
    if (pilot.state == PilotState::kGone) return;
    spdlog::warn("group '{}': {}", group_name_, why);
    LoseLeases(pilot, why);
    if (pilot.connection) pilot.connection->Close();
    pilot.connection.reset();
    if (pilot.job_id != 0 && !pilot.cancel_sent && !IsFinalJobState(pilot.slurm_state)) {
      pilot.cancel_sent = true;
      Scancel({pilot.job_id});
    }
    pilot.state = PilotState::kGone;
    WriteStatus();
    OnWork();
  }

  void LoseLeases(Pilot& pilot, const std::string& why) {
    for (uint64_t id : pilot.leases) {
      auto it = leases_.find(id);
      if (it == leases_.end()) continue;
      Lease& lease = it->second;
      CloseFd(&lease.out_fd);
      CloseFd(&lease.err_fd);
      const TaskState now = context_.segment->RunnerDied(lease.slot, id, why, 0);
      spdlog::warn("task {}: {}; now {}", id, why, TaskStateName(now));
      leases_.erase(it);
    }
    pilot.leases.clear();
  }

  // --- leases ---

  std::vector<PilotView> Views(std::vector<uint32_t>* numbers) {
    std::vector<PilotView> views;
    for (auto& [number, pilot] : pilots_) {
      if (pilot.state != PilotState::kConnected) continue;
      PilotView v;
      v.connected = true;
      v.slots = options_.slurm.pilot_slots;
      v.leased = static_cast<uint32_t>(pilot.leases.size());
      // Conservative: from the job's start as squeue saw it, else from its submission.
      v.walltime_end_us = (pilot.start_us != 0 ? pilot.start_us : pilot.submitted_us) +
                          options_.slurm.pilot_time_ms * 1000;
      views.push_back(v);
      numbers->push_back(number);
    }
    return views;
  }

  void Place() {
    if (shutting_down_) return;
    std::vector<uint32_t> numbers;
    std::vector<PilotView> views = Views(&numbers);
    if (views.empty()) return;
    std::map<uint32_t, nlohmann::json> batches;
    const uint64_t now = context_.os->NowUs();
    auto try_place = [&](const ClaimedTask& claimed) {
      const int chosen = ChoosePilot(views, claimed.record.timeout_ms, options_.kill_grace_ms, now);
      if (chosen < 0) return false;
      views[static_cast<size_t>(chosen)].leased++;
      const uint32_t number = numbers[static_cast<size_t>(chosen)];
      batches[number].push_back(LeaseTo(pilots_[number], claimed));
      return true;
    };
    for (auto it = unplaced_.begin(); it != unplaced_.end();) {
      if (!try_place(*it)) {
        ++it;
        continue;
      }
      // Its "WAITING" file would hide the pilot's job and node from `taskq status`.
      ::unlink(SlurmDetailsPath(context_.segment->state_dir(), it->record.id).c_str());
      it = unplaced_.erase(it);
    }
    const size_t max_unplaced = options_.slurm.max_pilots * options_.slurm.pilot_slots;
    auto has_free_slot = [&] {
      for (const PilotView& v : views) {
        if (v.leased < v.slots) return true;
      }
      return false;
    };
    while (has_free_slot() && unplaced_.size() < max_unplaced) {
      ClaimedTask claimed;
      if (!context_.segment->Pop(context_.supervisor_pid, &claimed, context_.group)) break;
      const Status allowed = CheckBeforeRun(claimed, options_);
      if (!allowed.ok()) {
        spdlog::warn("task {} refused: {}", claimed.record.id, allowed.message());
        context_.segment->Finish(claimed.slot, claimed.record.id, RefusedOutcome(allowed));
        continue;
      }
      if (LongerThanAnyPilot(claimed.record.timeout_ms, options_.kill_grace_ms,
                             options_.slurm.pilot_time_ms)) {
        TaskOutcome outcome;
        outcome.state = TaskState::kFailed;
        outcome.exit_code = -1;
        outcome.reason = fmt::format(
            "its timeout ({} ms) plus kill_grace is longer than slurm.pilot_time ({} ms): no "
            "pilot can run it; raise pilot_time or use mode: job",
            claimed.record.timeout_ms, options_.slurm.pilot_time_ms);
        context_.segment->Complete(claimed.slot, claimed.record.id, outcome);
        continue;
      }
      if (!try_place(claimed)) {
        (void)WriteSlurmDetails(
            context_.segment->state_dir(), claimed.record.id,
            SlurmDetails{0, "WAITING", "no pilot has walltime left for its timeout", ""});
        unplaced_.push_back(claimed);
      }
    }
    for (auto& [number, tasks] : batches) {
      Pilot& pilot = pilots_[number];
      if (pilot.connection) {
        pilot.connection->Send(EncodeJsonFrame({{"type", "lease"}, {"tasks", tasks}}));
      }
    }
  }

  nlohmann::json LeaseTo(Pilot& pilot, const ClaimedTask& claimed) {
    const std::string state_dir = context_.segment->state_dir();
    const SlurmJobRequest request = BuildSlurmJobRequest(claimed, options_, "taskq-run", state_dir);
    PilotTask task;
    task.id = claimed.record.id;
    task.kind = TaskKindName(claimed.spec.kind);
    task.argv = request.command;
    if (claimed.spec.kind != TaskKind::kExec) task.argv.erase(task.argv.begin());
    task.env = request.env;
    task.cwd = request.cwd;
    task.timeout_ms = claimed.record.timeout_ms;
    Lease lease;
    lease.slot = claimed.slot;
    lease.id = claimed.record.id;
    lease.pilot = pilot.number;
    lease.timeout_ms = claimed.record.timeout_ms;
    const uint64_t now = context_.os->NowUs();
    lease.deadline_us = DeadlineAfter(now, lease.timeout_ms);
    if (claimed.spec.kind == TaskKind::kExec) {
      const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
      lease.out_fd = ::open(request.stdout_path.c_str(), flags, 0600);
      lease.err_fd = ::open(request.stderr_path.c_str(), flags, 0600);
    }
    context_.segment->SetBatchJob(claimed.slot, lease.id, pilot.job_id);
    context_.segment->MarkStarted(claimed.slot, lease.id, now);
    // `taskq status` finds the node through the pilot's job id (no file per task: the hot path).
    if (pilot.recorded_node != pilot.node) {
      const Status noted = AppendPilotNode(state_dir, pilot.job_id, pilot.number, pilot.node);
      if (!noted.ok()) spdlog::warn("group '{}': {}", group_name_, noted.message());
      pilot.recorded_node = pilot.node;
    }
    pilot.leases.insert(lease.id);
    leases_[lease.id] = lease;
    return PilotTaskToJson(task);
  }

  void OnResult(Pilot& pilot, const nlohmann::json& j) {
    uint64_t id = 0;
    TaskOutcome outcome;
    if (!OutcomeFromJson(j, &id, &outcome)) {
      spdlog::warn("group '{}': {} sent a malformed result", group_name_, Where(pilot));
      return;
    }
    auto it = leases_.find(id);
    if (it == leases_.end() || it->second.pilot != pilot.number) {
      spdlog::warn("group '{}': {} reported task {}, which is not leased to it", group_name_,
                   Where(pilot), id);
      return;
    }
    Lease lease = it->second;
    leases_.erase(it);
    pilot.leases.erase(id);
    CloseFd(&lease.out_fd);
    CloseFd(&lease.err_fd);
    const std::string where = Where(pilot);
    const bool killed = outcome.signal != 0 || outcome.state == TaskState::kLost;
    if (killed && lease.cancel_requested) {
      outcome.state = TaskState::kCancelled;
      outcome.exit_code = -1;
      outcome.reason = "cancelled while running (" + where + ")";
    } else if (killed && lease.timeout_fired) {
      outcome.state = TaskState::kTimedOut;
      outcome.exit_code = -1;
      outcome.reason = fmt::format("timed out after {} ms; killed ({})", lease.timeout_ms, where);
    } else if (!outcome.reason.empty()) {
      outcome.reason += " (" + where + ")";
    }
    context_.segment->Finish(lease.slot, id, outcome);
    if (shutting_down_ && pilot.leases.empty() && pilot.state == PilotState::kConnected) {
      Stop(pilot);
    }
    OnWork();
  }

  // --- the periodic poll: deadlines, cancels, heartbeats, squeue ---

  void ArmTimer() {
    timer_.expires_after(std::chrono::milliseconds(options_.slurm.poll_interval_ms));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      Poll();
      ArmTimer();
    });
  }

  void Poll() {
    const uint64_t now = context_.os->NowUs();
    for (auto& [id, lease] : leases_) {
      if (!lease.cancel_requested) {
        TaskInfo info;
        if (context_.segment->Get(id, &info) && (info.record.flags & kFlagCancelKill) != 0) {
          lease.cancel_requested = true;
        }
      }
      if (DeadlinePassed(lease.deadline_us, now) && !lease.timeout_fired) {
        lease.timeout_fired = true;
        context_.segment->MarkTimeoutFired(lease.slot, id);
      }
      if ((lease.cancel_requested || lease.timeout_fired) && !lease.kill_sent) {
        lease.kill_sent = true;
        Pilot& pilot = pilots_[lease.pilot];
        if (pilot.connection) {
          pilot.connection->Send(EncodeJsonFrame({{"type", "kill"}, {"id", id}}));
        }
      }
    }
    const uint64_t silent_limit_us = options_.slurm.heartbeat_timeout_ms * 1000;
    std::vector<uint32_t> silent;
    for (auto& [number, pilot] : pilots_) {
      const bool live =
          pilot.state == PilotState::kConnected || pilot.state == PilotState::kStopping;
      if (live && now - pilot.last_seen_us > silent_limit_us) silent.push_back(number);
    }
    for (uint32_t number : silent) {
      Pilot& pilot = pilots_[number];
      LosePilot(pilot, fmt::format("{} stopped heartbeating ({} ms without a word)", Where(pilot),
                                   (now - pilot.last_seen_us) / 1000));
    }
    StartSqueue();
    std::erase_if(pilots_, [](const auto& p) {
      return p.second.state == PilotState::kGone && p.second.leases.empty() &&
             (p.second.job_id == 0 || IsFinalJobState(p.second.slurm_state) ||
              p.second.missing_polls >= kMissingPollsForGone);
    });
    MaybeSubmitPilot();
    WriteStatus();
  }

  void StartSqueue() {
    for (const auto& [pid, helper] : helpers_) {
      if (helper.kind == HelperKind::kSqueue) return;
    }
    const bool any = std::any_of(pilots_.begin(), pilots_.end(), [](const auto& p) {
      return p.second.job_id != 0 && !IsFinalJobState(p.second.slurm_state);
    });
    if (!any) return;
    Helper helper;
    helper.kind = HelperKind::kSqueue;
    helper.poll_seq = ++poll_seq_;
    std::string why;
    RunHelper(SqueueArgv(options_.slurm, options_.queue + "-pilot"), helper, &why);
  }

  void OnSqueue(uint64_t poll_seq, const std::string& out) {
    const std::map<uint32_t, SlurmJobStatus> jobs = ParseSqueueOutput(out);
    std::vector<std::pair<uint32_t, std::string>> ended;
    for (auto& [number, pilot] : pilots_) {
      if (pilot.job_id == 0 || pilot.known_since_poll > poll_seq ||
          IsFinalJobState(pilot.slurm_state)) {
        continue;
      }
      auto job = jobs.find(pilot.job_id);
      if (job == jobs.end()) {
        if (++pilot.missing_polls >= kMissingPollsForGone) {
          ended.emplace_back(number, "vanished from squeue");
        }
        continue;
      }
      pilot.missing_polls = 0;
      const SlurmJobStatus& s = job->second;
      pilot.slurm_state = s.state;
      if (s.start_us != 0) pilot.start_us = s.start_us;
      if (!s.nodes.empty() && s.state != "PENDING") pilot.node = s.nodes;
      if (IsFinalJobState(s.state)) {
        ended.emplace_back(
            number,
            fmt::format("ended {}{}", s.state,
                        s.reason.empty() || s.reason == "None" ? "" : " (" + s.reason + ")"));
      }
    }
    for (const auto& [number, how] : ended) {
      Pilot& pilot = pilots_[number];
      if (pilot.state == PilotState::kQueued || pilot.state == PilotState::kSubmitting) {
        pilot.state = PilotState::kGone;
        if (!pilot.cancel_sent) {
          FailedStart(number, fmt::format("slurm job {} {} before connecting; see "
                                          "{}/slurm/pilot-{}-{}.out",
                                          pilot.job_id, how, context_.segment->state_dir(), number,
                                          pilot.job_id));
        }
      } else if (pilot.state != PilotState::kGone) {
        LosePilot(pilot, fmt::format("{} {}", Where(pilot), how));
      }
    }
  }

  // --- helpers (sbatch, squeue, scancel) ---

  bool RunHelper(const std::vector<std::string>& argv, Helper helper, std::string* why) {
    const uint64_t n = ++helper_seq_;
    helper.out_path = fmt::format("{}/{}.out", helper_dir_, n);
    helper.err_path = fmt::format("{}/{}.err", helper_dir_, n);
    SpawnRequest request;
    request.argv = argv;
    request.env = RunnerEnvironment();
    request.stdout_path = helper.out_path;
    request.stderr_path = helper.err_path;
    pid_t pid = 0;
    const Status spawned = context_.os->StartHelper(request, &pid);
    if (!spawned.ok()) {
      // Spawn's message names the command ("cannot run '<path>': <why>"); the fix comes next,
      // short enough to survive the 120 bytes of a task's reason.
      *why = spawned.message() + "; install Slurm's client tools or set slurm.bin_dir";
      return false;
    }
    helpers_[pid] = helper;
    return true;
  }

  void Scancel(const std::vector<uint32_t>& jobs) {
    Helper helper;
    helper.kind = HelperKind::kScancel;
    std::string why;
    if (!RunHelper(ScancelArgv(options_.slurm, jobs), helper, &why)) {
      spdlog::warn("cannot run scancel: {}", why);
    }
  }

  // <state_dir>/slurm/pilots-group<row>.json: what `taskq top` shows about the pilots.
  void WriteStatus() {
    nlohmann::json j;
    j["group"] = group_name_;
    j["listen"] = listener_.advertised();
    j["paused"] = breaker_open_ ? nlohmann::json(last_failure_) : nlohmann::json();
    j["failed_starts"] = failed_starts_;
    j["unplaced"] = unplaced_.size();
    nlohmann::json list = nlohmann::json::array();
    const uint64_t now = context_.os->NowUs();
    for (const auto& [number, pilot] : pilots_) {
      const uint64_t start = pilot.start_us != 0 ? pilot.start_us : pilot.submitted_us;
      const uint64_t end = start + options_.slurm.pilot_time_ms * 1000;
      list.push_back({{"pilot", number},
                      {"job_id", pilot.job_id},
                      {"state", PilotStateName(pilot.state)},
                      {"node", pilot.node},
                      {"leases", pilot.leases.size()},
                      {"slots", options_.slurm.pilot_slots},
                      {"walltime_left_s", end > now ? (end - now) / 1000000 : 0}});
    }
    j["pilots"] = list;
    const std::string text = JsonText(j) + "\n";  // a node name is a pilot's word
    if (text == last_status_) return;
    last_status_ = text;
    const std::string temp = status_path_ + ".new";
    std::ofstream(temp, std::ios::trunc) << text;
    std::rename(temp.c_str(), status_path_.c_str());
  }

  ExecutorContext context_;
  Options options_;
  boost::asio::steady_timer timer_;
  PilotListener listener_;
  std::string worker_;
  std::string helper_dir_;
  std::string group_name_;
  std::string status_path_;
  std::string last_status_;
  std::map<uint32_t, Pilot> pilots_;  // by pilot number
  std::map<uint64_t, Lease> leases_;  // by task id
  std::deque<ClaimedTask> unplaced_;  // claimed, waiting for a pilot with enough walltime
  std::map<pid_t, Helper> helpers_;
  uint32_t pilot_seq_ = 0;
  uint64_t helper_seq_ = 0;
  uint64_t poll_seq_ = 0;
  uint32_t failed_starts_ = 0;
  std::string last_failure_;
  bool breaker_open_ = false;
  bool listening_ = false;
  bool squeue_failing_ = false;
  bool shutting_down_ = false;
};

}  // namespace

std::unique_ptr<Executor> MakeSlurmPilotExecutor(const ExecutorContext& context,
                                                 const Options& options) {
  return std::make_unique<SlurmPilotExecutor>(context, options);
}

}  // namespace taskq
