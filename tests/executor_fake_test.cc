// The `process` policy's executor (daemon/per_task.cc) on a fake operating system (daemon/os.h):
// no process starts, no signal is sent and no time passes unless the test says so. Each decision
// the executor makes (how many run at once, what a runner's death records, when a deadline and
// kill_grace fire, what kill, pause and shutdown signal) is checked exactly, on a real segment.
// The real processes stay covered end to end (fault_test, kill_test, pause_test, leftovers_test).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/segment.h"
#include "daemon/executor.h"
#include "daemon/os.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using Signal = std::pair<pid_t, int>;  // (process group, signal)

// Records runner starts and group signals; its clock moves only when the test moves it.
class FakeOs : public Os {
 public:
  Status StartRunner(Segment&, const ClaimedTask& task, const Options&, pid_t,
                     pid_t* pid) override {
    if (!refuse_start.ok()) return refuse_start;
    *pid = next_pid++;
    started.emplace_back(*pid, task.record.id);
    slot_of[task.record.id] = task.slot;
    return Status::Ok();
  }
  void SignalGroup(pid_t group, int signal) override {
    if (group > 0) signals.emplace_back(group, signal);
  }
  uint64_t NowUs() override { return now_us; }

  std::vector<std::pair<pid_t, uint64_t>> started;  // (runner pid, task id)
  std::map<uint64_t, uint32_t> slot_of;             // task id -> its slot, from the claim
  std::vector<Signal> signals;
  Status refuse_start = Status::Ok();
  pid_t next_pid = 100000;
  uint64_t now_us = taskq::NowUs();
};

int Exited(int code) { return code << 8; }  // a wait status as waitpid reports it
int KilledBy(int signal) { return signal; }

class ExecutorOnFakeOs : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.queue = UniqueQueueName();
    options_.state_dir = temp_.path();
    options_.capacity = 16;
    options_.policy = Policy::kProcess;
    options_.max_parallel = 2;
    options_.kill_grace_ms = 0;  // the escalation timer is due at once: no test waits for it
    options_ = ResolveDefaults(options_);
    ASSERT_TRUE(Segment::OpenAsSupervisor(options_, &segment_).ok());
    ExecutorContext context;
    context.io = &io_;
    context.segment = segment_.get();
    context.supervisor_pid = getpid();
    context.os = &os_;
    executor_ = MakePerTaskExecutor(context, options_);
  }

  void TearDown() override {
    executor_.reset();
    segment_.reset();
    EXPECT_TRUE(Segment::Remove(options_).ok());
  }

  uint64_t Submit(TaskKind kind, uint32_t retries = 0, uint64_t timeout_ms = 0) {
    TaskSpec spec;
    spec.kind = kind;
    if (kind == TaskKind::kExec) spec.exec.argv = {"/bin/true"};
    spec.retries = retries;
    if (timeout_ms != 0) spec.timeout_ms = timeout_ms;
    std::vector<uint64_t> ids;
    EXPECT_TRUE(segment_->Submit({spec}, &ids).ok());
    return ids.empty() ? 0 : ids[0];
  }

  TaskInfo Info(uint64_t id) {
    TaskInfo info;
    EXPECT_TRUE(segment_->Get(id, &info));
    return info;
  }
  TaskState StateOf(uint64_t id) { return Info(id).state; }
  pid_t RunnerOf(uint64_t id) {
    for (const auto& [pid, task] : os_.started) {
      if (task == id) return pid;
    }
    return 0;
  }
  // What a runner does before it exits: records its task's result.
  void Record(uint64_t id, TaskState state) {
    TaskOutcome outcome;
    outcome.state = state;
    segment_->Finish(os_.slot_of.at(id), id, outcome);
  }
  // Runs the event loop's due handlers until `done` holds (each round waits at most 1 ms for a
  // timer; the outcome never depends on how long a round takes).
  bool RunUntil(const std::function<bool()>& done) {
    for (int round = 0; round < 10000 && !done(); ++round) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(1));
    }
    return done();
  }
  bool Sent(pid_t group, int signal) const {
    for (const Signal& s : os_.signals) {
      if (s == Signal{group, signal}) return true;
    }
    return false;
  }

  TempDir temp_;
  Options options_;
  boost::asio::io_context io_;
  std::unique_ptr<Segment> segment_;
  FakeOs os_;
  std::unique_ptr<Executor> executor_;
};

TEST_F(ExecutorOnFakeOs, RunsAtMostMaxParallelAndStartsTheNextWhenOneExits) {
  const uint64_t a = Submit(TaskKind::kCpu), b = Submit(TaskKind::kCpu), c = Submit(TaskKind::kCpu);
  executor_->Start();
  ASSERT_EQ(os_.started.size(), 2u);
  EXPECT_EQ(StateOf(a), TaskState::kRunning);
  EXPECT_EQ(StateOf(b), TaskState::kRunning);
  EXPECT_EQ(StateOf(c), TaskState::kQueued) << "max_parallel 2";
  EXPECT_EQ(executor_->ProcessCount(), 2u);
  executor_->OnWork();
  EXPECT_EQ(os_.started.size(), 2u) << "no room: nothing more starts";

  Record(a, TaskState::kSucceeded);
  EXPECT_TRUE(executor_->OnChildExit(RunnerOf(a), Exited(0), rusage{}));
  EXPECT_EQ(StateOf(a), TaskState::kSucceeded) << "the runner's own record stands";
  ASSERT_EQ(os_.started.size(), 3u);
  EXPECT_EQ(os_.started[2].second, c);
  EXPECT_FALSE(executor_->OnChildExit(424242, Exited(0), rusage{})) << "not its child";
  EXPECT_TRUE(os_.signals.empty());
}

TEST_F(ExecutorOnFakeOs, ARunnerThatDiesBeforeRecordingLosesItsTaskOrRetriesIt) {
  const uint64_t once = Submit(TaskKind::kCpu, /*retries=*/0);
  const uint64_t twice = Submit(TaskKind::kCpu, /*retries=*/1);
  executor_->Start();
  ASSERT_EQ(os_.started.size(), 2u);
  const pid_t first = RunnerOf(once);
  executor_->OnChildExit(first, KilledBy(SIGKILL), rusage{});
  const TaskInfo lost = Info(once);
  EXPECT_EQ(lost.state, TaskState::kLost);
  EXPECT_NE(lost.reason().find("runner pid " + std::to_string(first) + " killed by SIGKILL"),
            std::string::npos)
      << lost.reason();

  executor_->OnChildExit(RunnerOf(twice), Exited(3), rusage{});
  // Requeued within its retries, and started again at once in the room the exit made.
  ASSERT_EQ(os_.started.size(), 3u);
  EXPECT_EQ(os_.started[2].second, twice);
  EXPECT_EQ(StateOf(twice), TaskState::kRunning);
  EXPECT_EQ(Info(twice).record.attempts, 2u);
}

TEST_F(ExecutorOnFakeOs, AFailedStartFailsTheTaskAndTheQueueGoesOn) {
  const uint64_t a = Submit(TaskKind::kCpu);
  os_.refuse_start = Status::Failed("fork: Resource temporarily unavailable");
  executor_->Start();
  EXPECT_EQ(StateOf(a), TaskState::kFailed);
  EXPECT_NE(Info(a).reason().find("Resource temporarily unavailable"), std::string::npos)
      << Info(a).reason();
  os_.refuse_start = Status::Ok();
  const uint64_t b = Submit(TaskKind::kCpu);
  executor_->OnWork();
  EXPECT_EQ(StateOf(b), TaskState::kRunning);
}

// The deadline is kept by the executor for cpu/io runners: nothing while its clock says the
// deadline is ahead, SIGTERM to the runner's group once it passed, SIGKILL after kill_grace; the
// runner's death is then recorded timed_out.
TEST_F(ExecutorOnFakeOs, TheDeadlineSendsSigtermThenSigkillAndRecordsTimedOut) {
  const uint64_t id = Submit(TaskKind::kCpu, 0, /*timeout_ms=*/1);
  executor_->Start();
  const pid_t runner = RunnerOf(id);
  ASSERT_NE(runner, 0);
  // The timer fires after 1 ms of real time, finds the fake clock short of the deadline and
  // waits again: however many times that happens, no signal.
  for (int round = 0; round < 20; ++round) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(os_.signals.empty());
  os_.now_us = Info(id).record.deadline_us + 1;
  ASSERT_TRUE(RunUntil([&] { return Sent(runner, SIGTERM); }));
  ASSERT_TRUE(RunUntil([&] { return Sent(runner, SIGKILL); })) << "kill_grace 0";
  executor_->OnChildExit(runner, KilledBy(SIGTERM), rusage{});
  EXPECT_EQ(StateOf(id), TaskState::kTimedOut);
}

// An exec runner keeps its command's deadline itself (as a pool worker does): the executor
// arms nothing for it.
TEST_F(ExecutorOnFakeOs, AnExecRunnerKeepsItsOwnDeadline) {
  const uint64_t id = Submit(TaskKind::kExec, 0, /*timeout_ms=*/1);
  executor_->Start();
  os_.now_us = Info(id).record.deadline_us + 1;
  io_.restart();
  io_.run_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(os_.signals.empty());
}

TEST_F(ExecutorOnFakeOs, KillSignalsWhatRunsTheTaskAndEscalates) {
  const uint64_t cpu = Submit(TaskKind::kCpu), exec = Submit(TaskKind::kExec);
  executor_->Start();
  const pid_t cpu_runner = RunnerOf(cpu);
  TaskRecord running;
  ASSERT_TRUE(segment_->RequestKill(cpu, "killed by test", &running).ok());
  ASSERT_TRUE(executor_->Kill(running, SIGINT, /*escalate=*/true));
  // A cpu task is its runner: the runner's group gets the signal, SIGCONT (a paused task must
  // run to act on it), and SIGKILL once kill_grace passed.
  EXPECT_EQ(os_.signals, (std::vector<Signal>{{cpu_runner, SIGINT}, {cpu_runner, SIGCONT}}));
  ASSERT_TRUE(RunUntil([&] { return Sent(cpu_runner, SIGKILL); }));
  executor_->OnChildExit(cpu_runner, KilledBy(SIGINT), rusage{});
  EXPECT_EQ(StateOf(cpu), TaskState::kCancelled);

  // An exec task's command has its own group under the runner; before the runner spawned it
  // there is nothing to signal (the runner sees the mark and does not start it).
  os_.signals.clear();
  ASSERT_TRUE(segment_->RequestKill(exec, "killed by test", &running).ok());
  ASSERT_TRUE(executor_->Kill(running, SIGTERM, /*escalate=*/false));
  EXPECT_TRUE(os_.signals.empty());
  // The runner records its command; SetChild tells it the kill was asked for meanwhile.
  ASSERT_TRUE(segment_->SetChild(os_.slot_of.at(exec), exec, 4242));
  running.child_pid = 4242;
  ASSERT_TRUE(executor_->Kill(running, SIGTERM, /*escalate=*/false));
  EXPECT_EQ(os_.signals, (std::vector<Signal>{{4242, SIGTERM}, {4242, SIGCONT}}));
  running.id = 999;
  EXPECT_FALSE(executor_->Kill(running, SIGTERM, false)) << "not its task";
}

TEST_F(ExecutorOnFakeOs, PauseStopsAnExecCommandsGroupAndLeavesABuiltInToItsCheck) {
  const uint64_t cpu = Submit(TaskKind::kCpu), exec = Submit(TaskKind::kExec);
  executor_->Start();
  TaskRecord running;
  ASSERT_TRUE(segment_->SetPaused(cpu, true, &running).ok());
  EXPECT_TRUE(executor_->Pause(running, true));
  EXPECT_TRUE(os_.signals.empty()) << "a built-in kernel waits at its next check on its own";

  // SetChild answers whether a kill was asked for (none here).
  EXPECT_FALSE(segment_->SetChild(os_.slot_of.at(exec), exec, 4343));
  ASSERT_TRUE(segment_->SetPaused(exec, true, &running).ok());
  EXPECT_TRUE(executor_->Pause(running, true));
  ASSERT_TRUE(segment_->SetPaused(exec, false, &running).ok());
  EXPECT_TRUE(executor_->Pause(running, false));
  EXPECT_EQ(os_.signals, (std::vector<Signal>{{4343, SIGSTOP}, {4343, SIGCONT}}));
}

// Shutdown: nothing new starts; at the end of shutdown_grace every runner's group and every
// exec command's group is killed, and the runs are recorded as killed at shutdown. With
// keep_running only the exec runners (the keepers) are spared.
TEST_F(ExecutorOnFakeOs, ShutdownStartsNothingAndKillsEveryGroupAtTheEndOfGrace) {
  const uint64_t cpu = Submit(TaskKind::kCpu), exec = Submit(TaskKind::kExec);
  const uint64_t waiting = Submit(TaskKind::kCpu);
  executor_->Start();
  const pid_t cpu_runner = RunnerOf(cpu), exec_runner = RunnerOf(exec);
  EXPECT_FALSE(segment_->SetChild(os_.slot_of.at(exec), exec, 4444)) << "no kill asked for";
  executor_->BeginShutdown();
  EXPECT_FALSE(executor_->OnlyKeepersLeft()) << "the cpu runner is no keeper";
  executor_->KillAllButKeepers();
  EXPECT_EQ(os_.signals, (std::vector<Signal>{{cpu_runner, SIGKILL}}));
  os_.signals.clear();
  executor_->KillAll();
  EXPECT_TRUE(Sent(cpu_runner, SIGKILL));
  EXPECT_TRUE(Sent(exec_runner, SIGKILL));
  EXPECT_TRUE(Sent(4444, SIGKILL)) << "the exec command's own group";

  executor_->OnChildExit(cpu_runner, KilledBy(SIGKILL), rusage{});
  executor_->OnChildExit(exec_runner, KilledBy(SIGKILL), rusage{});
  EXPECT_EQ(os_.started.size(), 2u) << "nothing starts during shutdown";
  EXPECT_EQ(StateOf(waiting), TaskState::kQueued);
  EXPECT_EQ(StateOf(cpu), TaskState::kLost);
  EXPECT_NE(Info(cpu).reason().find(kKilledAtShutdown), std::string::npos) << Info(cpu).reason();
  EXPECT_TRUE(executor_->Stopped());
}

}  // namespace
}  // namespace taskq::testing
