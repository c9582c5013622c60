// The `slurm` policy: the supervisor pops each task and hands it to Slurm as one batch job
// (`sbatch --parsable`), at most `slurm.max_jobs` at once. Nothing here blocks the event loop:
// sbatch, squeue and scancel run as short child processes of the supervisor (reaped through
// SIGCHLD like every other child), their output goes to files under <state_dir>/slurm, and one
// squeue every `slurm.poll_interval` reports the state of all of this queue's jobs.
//
// A task's life under this policy (its job's phase: daemon/slurm_job_phase.h; the task's own
// states: common/task_lifecycle.h):
//   claimed --sbatch ok--> in Slurm (PENDING) --RUNNING seen--> started (deadline armed)
//      |  sbatch refused: failed          |  final state seen: outcome recorded (table below)
//      |  controller unreachable longer than controller_timeout: lost (retries apply)
//   cancel requested (kFlagCancelKill) or deadline passed: scancel; the job then ends CANCELLED.
//   COMPLETED -> succeeded (cpu/io: taskq-run's JSON line is the result); FAILED -> failed with
//   the exit code, or lost when killed by a signal; CANCELLED -> cancelled (taskq asked),
//   timed_out (deadline), else lost; TIMEOUT/DEADLINE -> timed_out; NODE_FAIL, BOOT_FAIL,
//   PREEMPTED, vanished from squeue -> lost (retries resubmit); OUT_OF_MEMORY -> failed.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "common/deadline.h"
#include "common/slurm_details.h"
#include "common/spawn.h"
#include "common/task_policy.h"
#include "daemon/executor.h"
#include "daemon/fork_child.h"
#include "daemon/helper_output.h"
#include "daemon/slurm_commands.h"
#include "daemon/slurm_job_phase.h"
#include "daemon/task_runner.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

constexpr size_t kSubmitsInFlight = 4;  // sbatch processes at once
constexpr int kMissingPollsForLost = 2;

// A time Slurm reported, kept between the claim and now. A wall clock that stepped back can put
// now before the claim: then now wins (std::clamp with low > high is undefined).
uint64_t ClampToRun(uint64_t reported_us, uint64_t claimed_us, uint64_t now_us) {
  return std::clamp(reported_us, std::min(claimed_us, now_us), now_us);
}

struct SlurmTask {
  uint32_t slot = 0;
  uint64_t id = 0;
  TaskKind kind = TaskKind::kExec;
  uint64_t timeout_ms = 0;
  uint64_t claimed_us = 0;
  SlurmJobRequest request;
  JobPhase phase = JobPhase::kToSubmit;
  uint32_t job_id = 0;           // 0 until sbatch answered
  uint64_t retry_submit_us = 0;  // kToSubmit after a transient failure: try again at (Unix µs)
  uint64_t first_failure_us = 0;
  uint64_t known_since_poll = 0;  // polls started before the job id was known cannot see it
  int missing_polls = 0;
  uint64_t deadline_us = 0;  // armed when Slurm starts the job
  // Why taskq stops the job (facts for its outcome, not phases).
  bool cancel_requested = false;
  bool timeout_fired = false;
  SlurmDetails details;  // as last written for `taskq status`
};

enum class HelperKind { kSbatch, kSqueue, kScancel };

struct Helper {
  HelperKind kind = HelperKind::kSqueue;
  uint64_t task_id = 0;   // sbatch: the task it submits
  uint64_t poll_seq = 0;  // squeue: its number
  uint64_t started_us = 0;
  bool hung = false;  // killed after controller_timeout without an answer
  std::string out_path;
  std::string err_path;
};

class SlurmExecutor : public Executor {
 public:
  SlurmExecutor(const ExecutorContext& context, const Options& options)
      : context_(context), options_(options), timer_(*context.io) {
    runner_ = options_.slurm.runner;
    if (runner_.empty()) {
      runner_ = context_.self_exe.substr(0, context_.self_exe.rfind('/') + 1) + "taskq-run";
    }
    last_contact_us_ = context_.os->NowUs();
  }

  ~SlurmExecutor() override {
    if (!helper_dir_.empty()) ::rmdir(helper_dir_.c_str());  // empty once every helper is reaped
  }

  void Start() override {
    // Each executor (one per slurm group, and a replaced one while it drains) numbers its helper
    // files from 1: a directory of its own keeps them from overwriting each other's output.
    const std::string parent = context_.segment->state_dir() + "/slurm";
    ::mkdir(parent.c_str(), 0700);
    std::string pattern = fmt::format("{}/group{}-XXXXXX", parent, context_.group);
    if (::mkdtemp(pattern.data()) != nullptr) {
      helper_dir_ = pattern;
    } else {
      spdlog::error("cannot create a directory under {}: {}", parent, std::strerror(errno));
    }
    Adopt();
    OnWork();
    ArmTimer();
  }

  void OnWork() override {
    while (!shutting_down_ && tasks_.size() < options_.slurm.max_jobs &&
           SubmitsRunning() < kSubmitsInFlight) {
      ClaimedTask claimed;
      if (!context_.segment->Pop(context_.supervisor_pid, &claimed, context_.group)) break;
      // The same run-time check as the other policies: a submitter can write the segment.
      const Status allowed = CheckBeforeRun(claimed, options_);
      if (!allowed.ok()) {
        spdlog::warn("task {} refused: {}", claimed.record.id, allowed.message());
        context_.segment->Finish(claimed.slot, claimed.record.id, RefusedOutcome(allowed));
        continue;
      }
      SlurmTask& task = tasks_[claimed.record.id];
      task.slot = claimed.slot;
      task.id = claimed.record.id;
      task.kind = claimed.spec.kind;
      task.timeout_ms = claimed.record.timeout_ms;
      task.claimed_us = claimed.record.started_at_us;
      task.request = BuildRequest(claimed);
      Submit(task);
    }
  }

  bool OnChildExit(pid_t pid, int wait_status, const rusage&) override {
    auto it = helpers_.find(pid);
    if (it == helpers_.end()) return false;
    Helper helper = it->second;
    helpers_.erase(it);
    const std::string out = TakeHelperOutput(helper.out_path);
    const std::string err = TakeHelperOutput(helper.err_path);
    const bool ok = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    const std::string why =
        helper.hung    ? fmt::format("no answer within {} ms", options_.slurm.controller_timeout_ms)
        : !err.empty() ? FirstLineOf(err, 90)
        : WIFSIGNALED(wait_status) ? fmt::format("killed by {}", SignalName(WTERMSIG(wait_status)))
                                   : fmt::format("exit code {}", WEXITSTATUS(wait_status));
    switch (helper.kind) {
      case HelperKind::kSbatch:
        OnSbatchExit(helper.task_id, ok, out, why);
        break;
      case HelperKind::kSqueue:
        OnSqueueExit(helper.poll_seq, ok, out, why);
        break;
      case HelperKind::kScancel:
        if (!ok) spdlog::warn("scancel failed: {}", why);
        break;
    }
    OnWork();
    return true;
  }

  void OnTick() override { OnWork(); }

  void BeginShutdown() override { shutting_down_ = true; }

  // Grace is over: cancel every job, record its task lost (retries requeue it for the next
  // start), stop the helpers that could still take long.
  void KillAll() override {
    std::vector<uint32_t> jobs;
    for (auto& [id, task] : tasks_) {
      if (task.job_id != 0) jobs.push_back(task.job_id);
      context_.segment->RunnerDied(task.slot, id,
                                   task.job_id != 0 ? fmt::format("{} (slurm job {} cancelled)",
                                                                  kKilledAtShutdown, task.job_id)
                                                    : std::string(kKilledAtShutdown),
                                   0);
    }
    tasks_.clear();
    for (auto& [pid, helper] : helpers_) {
      if (helper.kind == HelperKind::kSqueue) context_.os->SignalProcess(pid, SIGKILL);
    }
    if (!jobs.empty()) Scancel(jobs);
    timer_.cancel();
  }

  bool Stopped() const override { return tasks_.empty() && helpers_.empty(); }
  bool Ready() const override { return true; }
  uint32_t ProcessCount() const override { return static_cast<uint32_t>(tasks_.size()); }
  // The segment marked the task killed; the next poll sees the mark and scancels its job
  // (Slurm picks the signals: scancel's TERM, then KILL after the cluster's KillWait).
  bool Kill(const TaskRecord& running, int, bool) override { return tasks_.count(running.id) != 0; }
  // `scontrol suspend` is for Slurm's operators only: a task queue cannot rely on it.
  bool Pause(const TaskRecord&, bool) override { return false; }

  bool ApplyLive(const Options& next) override {
    if (shutting_down_ || next.policy != Policy::kSlurm || next.slurm.mode != SlurmMode::kJob) {
      return false;
    }
    options_ = next;
    OnWork();
    return true;
  }

 private:
  size_t SubmitsRunning() const {
    return static_cast<size_t>(std::count_if(helpers_.begin(), helpers_.end(), [](const auto& h) {
      return h.second.kind == HelperKind::kSbatch;
    }));
  }

  // After a restart of taskqd: the running tasks of this group whose job was submitted are
  // watched again by job id (squeue reports how they end) instead of being requeued, which would
  // run them a second time while the old job still runs.
  void Adopt() {
    for (auto& [slot, record] : context_.segment->Running()) {
      if ((record.flags & kFlagBatchJob) == 0 || record.child_pid <= 0 ||
          record.group != context_.group || record.runner_pid == context_.supervisor_pid ||
          tasks_.count(record.id) != 0) {
        continue;
      }
      TaskInfo info;
      if (!context_.segment->Get(record.id, &info) || !info.spec_valid) continue;
      ClaimedTask claimed;
      claimed.slot = slot;
      claimed.record = info.record;
      claimed.spec = info.spec;
      SlurmTask& task = tasks_[record.id];
      task.slot = slot;
      task.id = record.id;
      task.kind = info.spec.kind;
      task.timeout_ms = record.timeout_ms;
      task.claimed_us = record.started_at_us;
      task.request = BuildRequest(claimed);
      task.job_id = static_cast<uint32_t>(record.child_pid);
      task.phase = JobPhase::kPending;  // squeue says whether it started
      task.known_since_poll = poll_seq_ + 1;
      task.cancel_requested = (record.flags & kFlagCancelKill) != 0;
      task.timeout_fired = (record.flags & kFlagTimeoutFired) != 0;
      context_.segment->SetRunner(slot, record.id, context_.supervisor_pid);
      spdlog::info("task {}: re-attached to slurm job {} after a restart", record.id, task.job_id);
    }
  }

  // Moves the job's phase as the table says; an event the table refuses is a bug here, logged.
  void Step(SlurmTask& task, JobEvent event) {
    const std::optional<JobPhase> next = NextJobPhase(task.phase, event);
    if (!next) {
      spdlog::warn("task {}: slurm job phase {} does not take {}", task.id,
                   JobPhaseName(task.phase), JobEventName(event));
      return;
    }
    task.phase = *next;
  }

  SlurmJobRequest BuildRequest(const ClaimedTask& claimed) {
    return BuildSlurmJobRequest(claimed, options_, runner_, context_.segment->state_dir());
  }

  // Starts a helper command; false (with the reason) when it could not be started.
  bool RunHelper(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 Helper helper, std::string* why) {
    const uint64_t n = ++helper_seq_;
    helper.out_path = fmt::format("{}/{}.out", helper_dir_, n);
    helper.err_path = fmt::format("{}/{}.err", helper_dir_, n);
    helper.started_us = context_.os->NowUs();
    SpawnRequest request;
    request.argv = argv;
    request.env = env;
    request.stdout_path = helper.out_path;
    request.stderr_path = helper.err_path;
    pid_t pid = 0;
    Status spawned = context_.os->StartHelper(request, &pid);
    if (!spawned.ok()) {
      // Spawn's message names the command ("cannot run '<path>': <why>"); the fix comes next,
      // short enough to survive the 120 bytes of a task's reason.
      *why = spawned.message() + "; install Slurm's client tools or set slurm.bin_dir";
      return false;
    }
    helpers_[pid] = helper;
    return true;
  }

  void Submit(SlurmTask& task) {
    Helper helper;
    helper.kind = HelperKind::kSbatch;
    helper.task_id = task.id;
    std::string why;
    task.retry_submit_us = 0;
    if (!RunHelper(SbatchArgv(options_.slurm, options_.queue, task.request), task.request.env,
                   helper, &why)) {
      Fail(task.id, TaskState::kFailed, "slurm: " + why);
      return;
    }
    Step(task, JobEvent::kSbatchStarted);
  }

  void OnSbatchExit(uint64_t task_id, bool ok, const std::string& out, const std::string& why) {
    uint32_t job_id = 0;
    const bool parsed = ok && ParseSbatchOutput(out, &job_id);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) {
      if (parsed) Scancel({job_id});  // the task ended (shutdown) while sbatch ran
      return;
    }
    SlurmTask& task = it->second;
    if (parsed) {
      Step(task, JobEvent::kSbatchAccepted);
      last_contact_us_ = context_.os->NowUs();
      task.job_id = job_id;
      task.first_failure_us = 0;
      task.known_since_poll = poll_seq_ + 1;
      context_.segment->SetBatchJob(task.slot, task.id, job_id);
      spdlog::debug("task {} submitted as slurm job {}", task.id, job_id);
      return;
    }
    Step(task, JobEvent::kSbatchFailed);
    const std::string reason = ok ? "sbatch printed no job id: " + FirstLineOf(out, 90) : why;
    if (!IsTransientSlurmError(reason)) {
      Fail(task.id, TaskState::kFailed, "sbatch refused the job: " + reason);
      return;
    }
    const uint64_t now = context_.os->NowUs();
    if (task.first_failure_us == 0) task.first_failure_us = now;
    if (now - task.first_failure_us >= options_.slurm.controller_timeout_ms * 1000) {
      Lose(task.id, fmt::format("slurm controller unreachable for {} ms (sbatch: {})",
                                (now - task.first_failure_us) / 1000, reason));
      return;
    }
    task.retry_submit_us = now + options_.slurm.poll_interval_ms * 1000;
  }

  void ArmTimer() {
    timer_.expires_after(std::chrono::milliseconds(options_.slurm.poll_interval_ms));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      Poll();
      if (!tasks_.empty() || !shutting_down_) ArmTimer();
    });
  }

  // Each poll_interval: act on cancel requests and deadlines, resubmit after transient sbatch
  // failures, and ask squeue for the state of every job.
  void Poll() {
    const uint64_t now = context_.os->NowUs();
    std::vector<uint32_t> to_cancel;
    std::vector<uint64_t> cancelled_unsubmitted;
    std::vector<uint64_t> resubmit;
    for (auto& [id, task] : tasks_) {
      if (!task.cancel_requested) {
        TaskInfo info;
        if (context_.segment->Get(id, &info) && (info.record.flags & kFlagCancelKill) != 0) {
          task.cancel_requested = true;
        }
      }
      if (task.phase == JobPhase::kRunning && DeadlinePassed(task.deadline_us, now) &&
          !task.timeout_fired) {
        task.timeout_fired = true;
        context_.segment->MarkTimeoutFired(task.slot, id);
        spdlog::debug("task {} timed out after {} ms: scancel slurm job {}", id, task.timeout_ms,
                      task.job_id);
      }
      if (task.cancel_requested || task.timeout_fired) {
        if (HasJob(task.phase)) {
          to_cancel.push_back(task.job_id);
          Step(task, JobEvent::kScancelSent);
        } else if (task.phase == JobPhase::kToSubmit && task.cancel_requested) {
          cancelled_unsubmitted.push_back(id);
        }
      }
      if (task.phase == JobPhase::kToSubmit && task.retry_submit_us != 0 &&
          now >= task.retry_submit_us && !task.cancel_requested) {
        resubmit.push_back(id);
      }
    }
    for (uint64_t id : resubmit) Submit(tasks_[id]);
    for (uint64_t id : cancelled_unsubmitted) {
      Fail(id, TaskState::kCancelled, "cancelled while running (before Slurm took the job)");
    }
    if (!to_cancel.empty()) Scancel(to_cancel);
    StartSqueue(now);
    OnWork();
  }

  void StartSqueue(uint64_t now) {
    for (auto& [pid, helper] : helpers_) {
      if (helper.kind != HelperKind::kSqueue) continue;
      // A squeue that hangs counts as a failure once controller_timeout is over; it is killed
      // once (its reaping decides), not again at every poll until then.
      if (!helper.hung && now - helper.started_us > options_.slurm.controller_timeout_ms * 1000) {
        helper.hung = true;
        context_.os->SignalProcess(pid, SIGKILL);
      }
      return;
    }
    const bool any_job = std::any_of(tasks_.begin(), tasks_.end(),
                                     [](const auto& t) { return t.second.job_id != 0; });
    if (!any_job) {
      last_contact_us_ = now;  // nothing to ask: the controller is not overdue
      return;
    }
    Helper helper;
    helper.kind = HelperKind::kSqueue;
    helper.poll_seq = ++poll_seq_;
    std::string why;
    if (!RunHelper(SqueueArgv(options_.slurm, options_.queue), RunnerEnvironment(), helper, &why)) {
      OnSqueueExit(helper.poll_seq, false, "", why);
    }
  }

  void Scancel(const std::vector<uint32_t>& jobs) {
    Helper helper;
    helper.kind = HelperKind::kScancel;
    std::string why;
    if (!RunHelper(ScancelArgv(options_.slurm, jobs), RunnerEnvironment(), helper, &why)) {
      spdlog::warn("cannot run scancel: {}", why);
    }
  }

  void OnSqueueExit(uint64_t poll_seq, bool ok, const std::string& out, const std::string& why) {
    const uint64_t now = context_.os->NowUs();
    if (!ok) {
      if (!squeue_failing_) spdlog::warn("squeue failed: {}; retrying each poll_interval", why);
      squeue_failing_ = true;
      if (now - last_contact_us_ < options_.slurm.controller_timeout_ms * 1000) return;
      std::vector<uint64_t> ids;
      for (auto& [id, task] : tasks_) {
        if (task.job_id != 0) ids.push_back(id);
      }
      for (uint64_t id : ids) {
        Lose(id, fmt::format("slurm controller unreachable for {} ms (squeue: {})",
                             (now - last_contact_us_) / 1000, why));
      }
      return;
    }
    last_contact_us_ = now;
    if (squeue_failing_) spdlog::info("squeue answers again");
    squeue_failing_ = false;
    const std::map<uint32_t, SlurmJobStatus> jobs = ParseSqueueOutput(out);
    std::vector<std::pair<uint64_t, SlurmJobStatus>> ended;
    std::vector<uint64_t> vanished;
    for (auto& [id, task] : tasks_) {
      if (task.job_id == 0 || task.known_since_poll > poll_seq) continue;
      auto job = jobs.find(task.job_id);
      if (job == jobs.end()) {
        if (++task.missing_polls >= kMissingPollsForLost) vanished.push_back(id);
        continue;
      }
      task.missing_polls = 0;
      const SlurmJobStatus& status = job->second;
      NoteDetails(task, status);
      if (task.phase == JobPhase::kPending && (status.state == "RUNNING" || status.start_us != 0) &&
          status.state != "PENDING") {
        Step(task, JobEvent::kSeenRunning);
        const uint64_t started = ClampToRun(status.start_us, task.claimed_us, now);
        context_.segment->MarkStarted(task.slot, id, started);
        task.deadline_us = DeadlineAfter(started, task.timeout_ms);
      }
      if (IsFinalJobState(status.state)) ended.emplace_back(id, status);
    }
    for (const auto& [id, status] : ended) Ended(id, status);
    for (uint64_t id : vanished) {
      Lose(id, fmt::format("slurm job {} vanished from squeue (purged after MinJobAge, or the "
                           "controller lost its state)",
                           tasks_[id].job_id));
    }
  }

  // Keeps <state_dir>/slurm/jobs/<id>.json in step with squeue, and says in the log why a job
  // waits (partition down, resources, priority) whenever that reason changes.
  void NoteDetails(SlurmTask& task, const SlurmJobStatus& status) {
    SlurmDetails now{task.job_id, status.state, status.reason == "None" ? "" : status.reason,
                     status.state == "PENDING" ? "" : status.nodes};
    if (now == task.details) return;
    if (now.state == "PENDING" && now.reason != task.details.reason) {
      spdlog::info("task {}: slurm job {} is pending ({})", task.id, task.job_id,
                   now.reason.empty() ? "no reason given" : now.reason);
    }
    task.details = now;
    const Status written = WriteSlurmDetails(context_.segment->state_dir(), task.id, now);
    if (!written.ok()) spdlog::warn("task {}: {}", task.id, written.message());
  }

  // A job reached a final state: the task's outcome from it.
  void Ended(uint64_t id, const SlurmJobStatus& job) {
    SlurmTask& task = tasks_[id];
    const std::string& state = job.state;
    TaskOutcome outcome;
    const uint64_t now = context_.os->NowUs();
    outcome.finished_at_us = ClampToRun(job.end_us, task.claimed_us, now);
    const std::string where =
        fmt::format("slurm job {}{}", task.job_id, job.nodes.empty() ? "" : " on " + job.nodes);
    if (state == "COMPLETED" || state == "FAILED") {
      if (task.kind == TaskKind::kExec) {
        outcome = OutcomeFromWaitStatus(job.wait_status, rusage{});
        outcome.finished_at_us = ClampToRun(job.end_us, task.claimed_us, now);
      } else {
        const std::string out = ReadSmallFile(task.request.stdout_path);
        if (!ParseRunnerResult(out, &outcome)) {
          outcome.state = TaskState::kFailed;
          outcome.reason = fmt::format("taskq-run printed no result ({}; see {})", where,
                                       task.request.stderr_path);
        }
        if (WIFEXITED(job.wait_status)) outcome.exit_code = WEXITSTATUS(job.wait_status);
        if (WIFEXITED(job.wait_status) && outcome.exit_code != 0 &&
            outcome.state == TaskState::kSucceeded) {
          outcome.state = TaskState::kFailed;
        }
        if (WIFSIGNALED(job.wait_status)) {
          outcome.state = TaskState::kLost;
          outcome.signal = WTERMSIG(job.wait_status);
          outcome.reason = fmt::format("killed by {}", SignalName(outcome.signal));
        }
      }
      if (outcome.state == TaskState::kLost && task.timeout_fired) {
        outcome.state = TaskState::kTimedOut;
      }
      if (!outcome.reason.empty()) outcome.reason += " (" + where + ")";
    } else if (state == "CANCELLED" && task.cancel_requested) {
      outcome.state = TaskState::kCancelled;
      outcome.exit_code = -1;
      outcome.reason = "cancelled while running (" + where + " cancelled)";
    } else if ((state == "CANCELLED" && task.timeout_fired) || state == "TIMEOUT" ||
               state == "DEADLINE") {
      outcome.state = TaskState::kTimedOut;
      outcome.exit_code = -1;
      outcome.reason =
          task.timeout_fired
              ? fmt::format("timed out after {} ms; {} cancelled", task.timeout_ms, where)
              : fmt::format("{} reached its Slurm time limit ({})", where, state);
    } else if (state == "OUT_OF_MEMORY") {
      outcome.state = TaskState::kFailed;
      outcome.exit_code = -1;
      outcome.reason = where + " ran out of memory (OUT_OF_MEMORY)";
    } else {
      // NODE_FAIL, BOOT_FAIL, PREEMPTED, REVOKED, or cancelled by someone else.
      Lose(id, fmt::format("{} ended {} ({})", where, state,
                           state == "CANCELLED" ? "cancelled outside taskq" : job.reason));
      return;
    }
    spdlog::debug("task {}: {} {} -> {}", id, where, state, TaskStateName(outcome.state));
    context_.segment->Finish(task.slot, id, outcome);
    tasks_.erase(id);
  }

  // The run is over without a result: requeue while retries allow, else lost.
  void Lose(uint64_t id, const std::string& why) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    if (HasJob(it->second.phase)) Scancel({it->second.job_id});
    const TaskState now = context_.segment->RunnerDied(it->second.slot, id, why, 0);
    spdlog::warn("task {}: {}; now {}", id, why, TaskStateName(now));
    tasks_.erase(it);
  }

  void Fail(uint64_t id, TaskState state, const std::string& why) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    TaskOutcome outcome;
    outcome.state = state;
    outcome.exit_code = -1;
    outcome.reason = why;
    context_.segment->Complete(it->second.slot, id, outcome);
    if (state == TaskState::kFailed) spdlog::warn("task {}: {}", id, why);
    tasks_.erase(it);
  }

  ExecutorContext context_;
  Options options_;
  boost::asio::steady_timer timer_;
  std::string helper_dir_;
  std::string runner_;
  std::map<uint64_t, SlurmTask> tasks_;  // by task id
  std::map<pid_t, Helper> helpers_;
  uint64_t helper_seq_ = 0;
  uint64_t poll_seq_ = 0;
  uint64_t last_contact_us_ = 0;
  bool squeue_failing_ = false;  // log the first failure of a run of them only
  bool shutting_down_ = false;
};

}  // namespace

std::unique_ptr<Executor> MakeSlurmExecutor(const ExecutorContext& context,
                                            const Options& options) {
  return std::make_unique<SlurmExecutor>(context, options);
}

}  // namespace taskq
