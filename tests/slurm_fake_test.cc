// The `slurm` policy's executors (daemon/slurm_executor.cc: one batch job per task;
// daemon/slurm_pilots.cc: pilot jobs) on the fake operating system of tests/fake_os.h: sbatch,
// squeue and scancel are never run. The test reads the command lines the executor asked for,
// answers each as Slurm would (its stdout, stderr and wait status) and moves the executor's clock,
// so every decision is checked exactly and without a cluster: what a job's end records, what a
// cancel and a deadline send, how long an unreachable controller is waited for, what shutdown
// cancels, how a restarted supervisor finds its jobs again, and when failed pilot starts pause
// the group. The real cluster stays covered end to end by slurm_test and slurm_pilot_test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "common/segment.h"
#include "daemon/executor.h"
#include "fmt/format.h"
#include "tests/fake_os.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

constexpr const char* kBinDir = "/opt/slurm/bin";  // never run: only named in the command lines

bool Has(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

class SlurmOnFakeOs : public ExecutorOnFakeOs {
 protected:
  void SetUp() override {
    options_.policy = Policy::kSlurm;
    options_.slurm.bin_dir = kBinDir;
    options_.slurm.max_jobs = 2;
    options_.slurm.poll_interval_ms = 1;  // every loop round polls: no test waits for a poll
    options_.slurm.controller_timeout_ms = 60000;
    options_.kill_grace_ms = 0;
    OpenSegment();  // each test makes its executor once it queued what it needs
  }

  void MakeExecutor(pid_t supervisor_pid = getpid()) {
    ExecutorOnFakeOs::MakeExecutor(
        options_.slurm.mode == SlurmMode::kPilot ? MakeSlurmPilotExecutor : MakeSlurmExecutor,
        supervisor_pid);
  }

  uint64_t Submit(const std::vector<std::string>& argv, uint32_t retries = 0,
                  uint64_t timeout_ms = 0) {
    TaskSpec spec;
    spec.kind = TaskKind::kExec;
    spec.exec.argv = argv;
    spec.retries = retries;
    if (timeout_ms != 0) spec.timeout_ms = timeout_ms;
    return SubmitSpec(spec);
  }

  // The helpers started so far whose command is `tool` (sbatch, squeue, scancel), oldest first.
  std::vector<pid_t> Started(const std::string& tool) const {
    std::vector<pid_t> pids;
    for (const auto& [pid, request] : os_.helpers) {
      if (request.argv.at(0) == fmt::format("{}/{}", kBinDir, tool)) pids.push_back(pid);
    }
    return pids;
  }
  const SpawnRequest& RequestOf(pid_t pid) const {
    for (const auto& [started, request] : os_.helpers) {
      if (started == pid) return request;
    }
    throw std::runtime_error(fmt::format("no helper {}", pid));
  }
  // The newest `tool` helper once the executor started one more than `already` of them.
  pid_t Next(const std::string& tool, size_t already) {
    EXPECT_TRUE(RunUntil([&] { return Started(tool).size() > already; })) << "no " << tool;
    const std::vector<pid_t> pids = Started(tool);
    return pids.size() > already ? pids.back() : 0;
  }
  // The helper ends as Slurm's command would: what it printed, and its wait status.
  bool Answer(pid_t pid, const std::string& out, const std::string& err = "",
              int wait_status = Exited(0)) {
    const SpawnRequest& request = RequestOf(pid);
    std::ofstream(request.stdout_path) << out;
    std::ofstream(request.stderr_path) << err;
    return executor_->OnChildExit(pid, wait_status, rusage{});
  }
  // One squeue answer with these lines (SqueueArgv's format: id|state|reason|wait status|start|
  // end|nodes), after the executor asked again.
  void Squeue(const std::string& lines) {
    const pid_t squeue = Next("squeue", squeues_answered_);
    ASSERT_NE(squeue, 0);
    ++squeues_answered_;
    ASSERT_TRUE(Answer(squeue, lines));
  }

  size_t squeues_answered_ = 0;
};

TEST_F(SlurmOnFakeOs, EachTaskIsOneJobAndSqueueSaysHowItEnded) {
  const uint64_t ok = Submit({"/bin/true"});
  const uint64_t three = Submit({"/bin/sh", "-c", "exit 3"});
  const uint64_t third = Submit({"/bin/true"});
  MakeExecutor();
  executor_->Start();
  ASSERT_EQ(Started("sbatch").size(), 2u) << "slurm.max_jobs 2";
  EXPECT_EQ(StateOf(third), TaskState::kQueued);
  const pid_t first = Started("sbatch")[0];
  const std::vector<std::string>& argv = RequestOf(first).argv;
  EXPECT_TRUE(Has(argv, "--parsable"));
  EXPECT_TRUE(Has(argv, "--job-name=taskq-" + options_.queue));
  EXPECT_TRUE(Has(argv, fmt::format("--comment=taskq task {}", ok)));
  EXPECT_TRUE(Has(argv, "--no-requeue")) << "taskq decides about retries";
  EXPECT_EQ(argv.back(), "--wrap=exec '/bin/true'");

  ASSERT_TRUE(Answer(first, "4242\n"));
  ASSERT_TRUE(Answer(Started("sbatch")[1], "4243;cluster\n"));
  EXPECT_EQ(Info(ok).record.child_pid, 4242) << "the job id is kept for a restart";
  EXPECT_NE(Info(ok).record.flags & kFlagBatchJob, 0u);
  EXPECT_EQ(Info(three).record.child_pid, 4243);

  Squeue("4242|RUNNING|None|0|2026-12-05T10:00:00|N/A|node1\n4243|PENDING|Priority|0|N/A|N/A|\n");
  EXPECT_EQ(StateOf(ok), TaskState::kRunning);
  EXPECT_NE(Info(ok).record.started_at_us, 0u);
  Squeue(
      "4242|COMPLETED|None|0|2026-12-05T10:00:00|2026-12-05T10:00:01|node1\n"
      "4243|FAILED|NonZeroExitCode|768|2026-12-05T10:00:00|2026-12-05T10:00:02|node2\n");
  EXPECT_EQ(StateOf(ok), TaskState::kSucceeded);
  const TaskInfo failed = Info(three);
  EXPECT_EQ(failed.state, TaskState::kFailed);
  EXPECT_EQ(failed.record.exit_code, 3);
  ASSERT_EQ(Started("sbatch").size(), 3u) << "the room the two ends made goes to the next task";
  EXPECT_TRUE(
      Has(RequestOf(Started("sbatch")[2]).argv, fmt::format("--comment=taskq task {}", third)));
  EXPECT_TRUE(Started("scancel").empty());
}

TEST_F(SlurmOnFakeOs, ACancelAndADeadlineScancelTheJobAndSayWhy) {
  const uint64_t cancelled = Submit({"/bin/sleep", "100"});
  const uint64_t late = Submit({"/bin/sleep", "100"}, /*retries=*/0, /*timeout_ms=*/5000);
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "7001\n"));
  ASSERT_TRUE(Answer(Started("sbatch")[1], "7002\n"));
  Squeue(
      "7001|RUNNING|None|0|2026-12-05T10:00:00|N/A|node1\n"
      "7002|RUNNING|None|0|2026-12-05T10:00:00|N/A|node1\n");

  ASSERT_TRUE(segment_->Cancel(cancelled).ok());
  const pid_t first = Next("scancel", 0);
  EXPECT_EQ(RequestOf(first).argv,
            (std::vector<std::string>{fmt::format("{}/scancel", kBinDir), "7001"}));
  ASSERT_TRUE(Answer(first, ""));
  EXPECT_EQ(Started("scancel").size(), 1u) << "the deadline (5 s) is not over on the fake clock";

  os_.now_us += 6'000'000;  // past the deadline, counted from the start squeue reported
  const pid_t second = Next("scancel", 1);
  EXPECT_TRUE(Has(RequestOf(second).argv, "7002"));
  Squeue(
      "7001|CANCELLED|None|15|2026-12-05T10:00:00|2026-12-05T10:00:03|node1\n"
      "7002|CANCELLED|None|15|2026-12-05T10:00:00|2026-12-05T10:00:06|node1\n");
  const TaskInfo c = Info(cancelled);
  EXPECT_EQ(c.state, TaskState::kCancelled);
  EXPECT_NE(c.reason().find("slurm job 7001 on node1 cancelled"), std::string::npos) << c.reason();
  const TaskInfo t = Info(late);
  EXPECT_EQ(t.state, TaskState::kTimedOut);
  EXPECT_NE(t.reason().find("timed out after 5000 ms; slurm job 7002"), std::string::npos)
      << t.reason();
}

TEST_F(SlurmOnFakeOs, AnUnreachableControllerIsRetriedUntilControllerTimeout) {
  const uint64_t id = Submit({"/bin/true"});
  const uint64_t refused = Submit({"/bin/true"});
  MakeExecutor();
  executor_->Start();
  const std::string unreachable =
      "sbatch: error: Batch job submission failed: Unable to contact slurm controller\n";
  ASSERT_TRUE(Answer(Started("sbatch")[0], "", unreachable, Exited(1)));
  ASSERT_TRUE(Answer(Started("sbatch")[1], "",
                     "sbatch: error: Batch job submission failed: Invalid partition name "
                     "specified\n",
                     Exited(1)));
  const TaskInfo r = Info(refused);
  EXPECT_EQ(r.state, TaskState::kFailed) << "retrying cannot help a refusal";
  EXPECT_NE(r.reason().find("sbatch refused the job: sbatch: error: Batch job submission failed: "
                            "Invalid partition"),
            std::string::npos)
      << r.reason();
  EXPECT_EQ(StateOf(id), TaskState::kRunning) << "a transient failure waits";

  os_.now_us += 1000;  // one poll_interval later: sbatch again
  ASSERT_NE(Next("sbatch", 2), 0);
  ASSERT_TRUE(Answer(Started("sbatch")[2], "", unreachable, Exited(1)));
  EXPECT_EQ(StateOf(id), TaskState::kRunning) << "still within controller_timeout";

  os_.now_us += 60'000'000;
  ASSERT_NE(Next("sbatch", 3), 0);
  ASSERT_TRUE(Answer(Started("sbatch")[3], "", unreachable, Exited(1)));
  const TaskInfo lost = Info(id);
  EXPECT_EQ(lost.state, TaskState::kLost);
  EXPECT_NE(lost.reason().find("slurm controller unreachable for 60001 ms (sbatch: sbatch: error: "
                               "Batch job submission failed: Unable to contact"),
            std::string::npos)
      << lost.reason();
}

TEST_F(SlurmOnFakeOs, AHungSqueueIsKilledAndItsJobsLostAfterControllerTimeout) {
  const uint64_t id = Submit({"/bin/true"}, /*retries=*/1);
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "9100\n"));
  const pid_t squeue = Next("squeue", 0);
  os_.now_us += 61'000'000;
  ASSERT_TRUE(RunUntil([&] {
    return std::count(os_.process_signals.begin(), os_.process_signals.end(),
                      Signal{squeue, SIGKILL}) == 1;
  })) << "the hung squeue is killed";
  EXPECT_EQ(StateOf(id), TaskState::kRunning) << "nothing is decided before it is reaped";
  ASSERT_TRUE(Answer(squeue, "", "", KilledBy(SIGKILL)));
  const TaskInfo requeued = Info(id);
  EXPECT_EQ(requeued.record.attempts, 2u) << "lost within its retries: queued again";
  EXPECT_NE(requeued.reason().find("slurm controller unreachable for 61000 ms (squeue: no answer "
                                   "within 60000 ms)"),
            std::string::npos)
      << requeued.reason();
  EXPECT_EQ(Started("sbatch").size(), 2u) << "and submitted again";
  const std::vector<pid_t> cancels = Started("scancel");
  ASSERT_EQ(cancels.size(), 1u) << "the job it gave up on is cancelled: it must not run twice";
  EXPECT_TRUE(Has(RequestOf(cancels[0]).argv, "9100"));
}

TEST_F(SlurmOnFakeOs, AJobThatVanishesOrWhoseNodeFailsIsLostAndRetried) {
  const uint64_t vanished = Submit({"/bin/true"});
  const uint64_t node_fail = Submit({"/bin/true"}, /*retries=*/1);
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "500\n"));
  ASSERT_TRUE(Answer(Started("sbatch")[1], "501\n"));
  Squeue("501|NODE_FAIL|None|0|2026-12-05T10:00:00|2026-12-05T10:00:01|node3\n");
  EXPECT_EQ(StateOf(vanished), TaskState::kRunning) << "one poll without it is not enough";
  const TaskInfo retried = Info(node_fail);
  EXPECT_EQ(retried.state, TaskState::kRunning) << "requeued and submitted again at once";
  EXPECT_EQ(retried.record.attempts, 2u);
  EXPECT_NE(retried.reason().find("slurm job 501 on node3 ended NODE_FAIL"), std::string::npos)
      << retried.reason();
  Squeue("");
  const TaskInfo lost = Info(vanished);
  EXPECT_EQ(lost.state, TaskState::kLost);
  EXPECT_NE(lost.reason().find("slurm job 500 vanished from squeue"), std::string::npos)
      << lost.reason();
}

TEST_F(SlurmOnFakeOs, ShutdownCancelsEveryJobAndRecordsItsTaskLost) {
  const uint64_t a = Submit({"/bin/sleep", "100"});
  const uint64_t b = Submit({"/bin/sleep", "100"});
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "800\n"));
  const pid_t squeue = Next("squeue", 0);
  executor_->BeginShutdown();
  executor_->KillAll();
  for (uint64_t id : {a, b}) {
    const TaskInfo info = Info(id);
    EXPECT_EQ(info.state, TaskState::kLost);
    EXPECT_NE(info.reason().find(kKilledAtShutdown), std::string::npos) << info.reason();
  }
  EXPECT_NE(Info(a).reason().find("slurm job 800 cancelled"), std::string::npos);
  const std::vector<pid_t> cancels = Started("scancel");
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_TRUE(Has(RequestOf(cancels[0]).argv, "800"));
  EXPECT_EQ(
      std::count(os_.process_signals.begin(), os_.process_signals.end(), Signal{squeue, SIGKILL}),
      1)
      << "a poll in flight is stopped";
  EXPECT_FALSE(executor_->Stopped()) << "its helpers are not reaped yet";
  // b's sbatch answers after the shutdown: the job it made is cancelled at once.
  ASSERT_TRUE(Answer(Started("sbatch")[1], "801\n"));
  ASSERT_EQ(Started("scancel").size(), 2u);
  EXPECT_TRUE(Has(RequestOf(Started("scancel")[1]).argv, "801"));
  ASSERT_TRUE(Answer(squeue, "", "", KilledBy(SIGKILL)));
  for (pid_t pid : Started("scancel")) ASSERT_TRUE(Answer(pid, ""));
  EXPECT_TRUE(executor_->Stopped());
}

TEST_F(SlurmOnFakeOs, ARestartedSupervisorWatchesTheJobsItSubmittedInsteadOfRunningThemTwice) {
  const uint64_t id = Submit({"/bin/true"});
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "6060\n"));
  executor_.reset();  // taskqd died: its job runs on in Slurm

  squeues_answered_ = Started("squeue").size();
  MakeExecutor(/*supervisor_pid=*/getpid() + 100000);  // the next taskqd
  executor_->Start();
  EXPECT_EQ(Started("sbatch").size(), 1u) << "no second job for the same task";
  EXPECT_EQ(Info(id).record.runner_pid, getpid() + 100000);
  Squeue("6060|COMPLETED|None|0|2026-12-05T10:00:00|2026-12-05T10:00:01|node1\n");
  EXPECT_EQ(StateOf(id), TaskState::kSucceeded);
}

TEST_F(SlurmOnFakeOs, AMissingSbatchFailsTheTaskNamingTheFix) {
  const uint64_t id = Submit({"/bin/true"});
  os_.refuse_helper =
      Status::Failed("cannot run '/opt/slurm/bin/sbatch': No such file or directory");
  MakeExecutor();
  executor_->Start();
  const TaskInfo info = Info(id);
  EXPECT_EQ(info.state, TaskState::kFailed);
  EXPECT_EQ(info.reason(),
            "slurm: cannot run '/opt/slurm/bin/sbatch': No such file or directory; install "
            "Slurm's client tools or set slurm.bin_dir")
      << "the fix fits in a task's reason";
}

class PilotsOnFakeOs : public SlurmOnFakeOs {
 protected:
  void SetUp() override {
    options_.slurm.mode = SlurmMode::kPilot;
    options_.slurm.max_failed_starts = 2;
    options_.slurm.backlog = 1;
    SlurmOnFakeOs::SetUp();
  }
  bool Paused() {
    for (const GroupInfo& group : segment_->Groups()) {
      if (group.index == 0) return group.paused;
    }
    return false;
  }
  std::string GroupName() { return segment_->Groups().at(0).name; }
};

TEST_F(PilotsOnFakeOs, QueuedWorkSubmitsAPilotAndFailedStartsPauseTheGroup) {
  const uint64_t id = Submit({"/bin/true"});
  MakeExecutor();
  executor_->Start();
  ASSERT_EQ(Started("sbatch").size(), 1u);
  const pid_t first = Started("sbatch")[0];
  const std::vector<std::string>& argv = RequestOf(first).argv;
  EXPECT_TRUE(Has(argv, "--job-name=taskq-" + options_.queue + "-pilot"));
  EXPECT_EQ(argv.back().rfind("--wrap=exec '/usr/sbin/taskq-worker' --idle-timeout-ms ", 0), 0u)
      << argv.back();
  // The pilot's secret travels in a 0600 file for --export-file, never on the command line.
  const auto export_file = std::find_if(argv.begin(), argv.end(), [](const std::string& a) {
    return a.rfind("--export-file=", 0) == 0;
  });
  ASSERT_NE(export_file, argv.end());
  const std::string env_path = export_file->substr(std::string("--export-file=").size());
  struct stat st {};
  ASSERT_EQ(::stat(env_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string secret_line;
  {
    std::ifstream env(env_path);
    std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    const size_t at = all.find("TASKQ_PILOT_SECRET=");
    ASSERT_NE(at, std::string::npos);
    secret_line = all.substr(at, all.find('\0', at) - at);
  }
  for (const std::string& word : argv) EXPECT_EQ(word.find(secret_line), std::string::npos);

  ASSERT_TRUE(Answer(first, "900\n"));
  EXPECT_NE(::access(env_path.c_str(), F_OK), 0) << "the secret's file is gone once sbatch ended";
  EXPECT_EQ(Started("sbatch").size(), 1u) << "slurm.backlog 1: one pilot waits at a time";

  // The job fails before its pilot connects: a failed start; another pilot is tried.
  Squeue("900|FAILED|NonZeroExitCode|256|2026-12-05T10:00:00|2026-12-05T10:00:01|node1\n");
  ASSERT_EQ(Started("sbatch").size(), 2u);
  EXPECT_FALSE(Paused());
  ASSERT_TRUE(Answer(Started("sbatch")[1], "",
                     "sbatch: error: Batch job submission failed: Invalid partition name "
                     "specified\n",
                     Exited(1)));
  EXPECT_TRUE(Paused()) << "slurm.max_failed_starts 2 in a row pause the group";
  executor_->OnTick();
  EXPECT_EQ(Started("sbatch").size(), 2u) << "no pilot while the group is paused";
  EXPECT_EQ(StateOf(id), TaskState::kQueued) << "the task waits for a pilot";

  ASSERT_TRUE(segment_->SetGroupPaused(GroupName(), false).ok());  // `taskq group resume`
  executor_->OnTick();
  EXPECT_EQ(Started("sbatch").size(), 3u) << "resumed: pilots are submitted again";
}

TEST_F(PilotsOnFakeOs, ShutdownCancelsAPilotStillWaitingInSlurm) {
  Submit({"/bin/true"});
  MakeExecutor();
  executor_->Start();
  ASSERT_TRUE(Answer(Started("sbatch")[0], "901\n"));
  executor_->BeginShutdown();
  const std::vector<pid_t> cancels = Started("scancel");
  ASSERT_EQ(cancels.size(), 1u) << "a pilot still waiting in Slurm is cancelled at once";
  EXPECT_TRUE(Has(RequestOf(cancels[0]).argv, "901"));
  ASSERT_TRUE(Answer(cancels[0], ""));
}

}  // namespace
}  // namespace taskq::testing
