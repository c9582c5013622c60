// The local executors, `process` (daemon/per_task.cc) and `pool` (daemon/pool.cc), on a fake
// operating system (daemon/os.h): no process starts, no signal is sent and the executors' clocks
// stand still unless the test moves them (their asio timers run on the real clock: kill_grace is
// 0 and the tests run the loop until what they wait for happened, however long that takes). Each
// decision an executor makes (how many run at once, what a runner's or a worker's death records,
// restarts and their throttle, when a deadline and kill_grace fire, what kill, pause, a shrinking
// pool and shutdown signal) is checked exactly, on a real segment. The real processes stay covered
// end to end (fault_test, kill_test, pause_test, reload_test, ...).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/segment.h"
#include "common/worker_lifecycle.h"
#include "daemon/executor.h"
#include "daemon/os.h"
#include "fmt/format.h"
#include "tests/fake_os.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

class OnFakeOs : public ExecutorOnFakeOs {
 protected:
  // `process` with max_parallel 2, or a pool of `workers`.
  void MakeExecutor(Policy policy, uint32_t workers = 0) {
    options_.policy = policy;
    options_.max_parallel = 2;
    options_.workers = workers;
    options_.kill_grace_ms = 0;  // the escalation timer is due at once: no test waits for it
    OpenSegment();
    ExecutorOnFakeOs::MakeExecutor(policy == Policy::kPool ? MakePoolExecutor
                                                           : MakePerTaskExecutor);
  }

  uint64_t Submit(TaskKind kind, uint32_t retries = 0, uint64_t timeout_ms = 0) {
    TaskSpec spec;
    spec.kind = kind;
    if (kind == TaskKind::kExec) spec.exec.argv = {"/bin/true"};
    spec.retries = retries;
    if (timeout_ms != 0) spec.timeout_ms = timeout_ms;
    return SubmitSpec(spec);
  }

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
  bool Sent(pid_t group, int signal) const {
    for (const Signal& s : os_.signals) {
      if (s == Signal{group, signal}) return true;
    }
    return false;
  }

  // A pool worker's row in the segment's worker table.
  WorkerEntry& Row(size_t worker) {
    return segment_->header()->workers[os_.workers.at(worker).second];
  }
  pid_t WorkerPid(size_t worker) const { return os_.workers.at(worker).first; }
  // What a pool worker does: claims the next task (and, for exec, records its command's group).
  uint64_t Claim(size_t worker, pid_t command = 0) {
    ClaimedTask task;
    if (!segment_->Pop(WorkerPid(worker), &task)) return 0;
    os_.slot_of[task.record.id] = task.slot;
    if (command != 0) segment_->SetChild(task.slot, task.record.id, command);
    Row(worker).current_id.store(task.record.id);
    return task.record.id;
  }
  TaskRecord RecordOf(uint64_t id) { return Info(id).record; }
};

class ProcessOnFakeOs : public OnFakeOs {
 protected:
  void SetUp() override { MakeExecutor(Policy::kProcess); }
};

TEST_F(ProcessOnFakeOs, RunsAtMostMaxParallelAndStartsTheNextWhenOneExits) {
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

TEST_F(ProcessOnFakeOs, ARunnerThatDiesBeforeRecordingLosesItsTaskOrRetriesIt) {
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

TEST_F(ProcessOnFakeOs, AFailedStartFailsTheTaskAndTheQueueGoesOn) {
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
TEST_F(ProcessOnFakeOs, TheDeadlineSendsSigtermThenSigkillAndRecordsTimedOut) {
  const uint64_t id = Submit(TaskKind::kCpu, 0, /*timeout_ms=*/1);
  executor_->Start();
  const pid_t runner = RunnerOf(id);
  ASSERT_NE(runner, 0);
  // The timer is armed for the deadline as the fake clock sees it (no later than the real one),
  // so once the real clock is well past the deadline it has fired, found the fake clock short of
  // it and waited again: no signal.
  const uint64_t deadline = Info(id).record.deadline_us;
  while (taskq::NowUs() < deadline + 20000) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(os_.signals.empty());
  os_.now_us = deadline + 1;
  ASSERT_TRUE(RunUntil([&] { return Sent(runner, SIGTERM); }));
  ASSERT_TRUE(RunUntil([&] { return Sent(runner, SIGKILL); })) << "kill_grace 0";
  executor_->OnChildExit(runner, KilledBy(SIGTERM), rusage{});
  EXPECT_EQ(StateOf(id), TaskState::kTimedOut);
}

// An exec runner keeps its command's deadline itself (as a pool worker does): the executor
// arms nothing for it.
TEST_F(ProcessOnFakeOs, AnExecRunnerKeepsItsOwnDeadline) {
  const uint64_t id = Submit(TaskKind::kExec, 0, /*timeout_ms=*/1);
  executor_->Start();
  os_.now_us = Info(id).record.deadline_us + 1;
  io_.restart();
  io_.run_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(os_.signals.empty());
}

TEST_F(ProcessOnFakeOs, KillSignalsWhatRunsTheTaskAndEscalates) {
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

TEST_F(ProcessOnFakeOs, PauseStopsAnExecCommandsGroupAndLeavesABuiltInToItsCheck) {
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
TEST_F(ProcessOnFakeOs, ShutdownStartsNothingAndKillsEveryGroupAtTheEndOfGrace) {
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

// ---- pool ---------------------------------------------------------------------------------

class PoolOnFakeOs : public OnFakeOs {
 protected:
  void SetUp() override { MakeExecutor(Policy::kPool, 2); }
  void AttachAll() {
    for (size_t i = 0; i < os_.workers.size(); ++i)
      ApplyWorkerEvent(Row(i), WorkerEvent::kAttached);
  }
};

TEST_F(PoolOnFakeOs, StartsItsWorkersAndIsReadyOnceEachAttached) {
  executor_->Start();
  ASSERT_EQ(os_.workers.size(), 2u);
  EXPECT_NE(os_.workers[0].second, os_.workers[1].second) << "a row each";
  EXPECT_EQ(Row(0).pid.load(), WorkerPid(0));
  EXPECT_EQ(executor_->ProcessCount(), 2u);
  EXPECT_FALSE(executor_->Ready()) << "both still starting";
  ApplyWorkerEvent(Row(0), WorkerEvent::kAttached);
  EXPECT_FALSE(executor_->Ready());
  ApplyWorkerEvent(Row(1), WorkerEvent::kAttached);
  EXPECT_TRUE(executor_->Ready());
  EXPECT_FALSE(executor_->OnChildExit(424242, Exited(0), rusage{})) << "not its worker";
}

// A worker that dies takes its task to a retry or to lost, its exec command's group is killed,
// and a worker that had run a while is replaced at once.
TEST_F(PoolOnFakeOs, AWorkerThatDiesLosesItsTaskKillsItsCommandAndIsReplaced) {
  const uint64_t exec = Submit(TaskKind::kExec);
  executor_->Start();
  AttachAll();
  ASSERT_EQ(Claim(1, /*command=*/5555), exec);
  os_.monotonic_us += 2000000;
  const pid_t dead = WorkerPid(1);
  EXPECT_TRUE(executor_->OnChildExit(dead, KilledBy(SIGSEGV), rusage{}));
  EXPECT_EQ(os_.task_groups_killed, std::vector<pid_t>{5555});
  const TaskInfo lost = Info(exec);
  EXPECT_EQ(lost.state, TaskState::kLost);
  EXPECT_NE(lost.reason().find("worker pid " + std::to_string(dead) + " killed by SIGSEGV"),
            std::string::npos)
      << lost.reason();
  ASSERT_EQ(os_.workers.size(), 3u) << "replaced at once";
  EXPECT_EQ(os_.workers[2].second, os_.workers[1].second) << "on the same row";
  EXPECT_EQ(executor_->ProcessCount(), 2u);
}

// s6's restart throttle: a worker that dies within a second of its start is restarted only a
// second later (by the tick), so a crash loop cannot spin; a clean exit (a recycle after
// max_tasks_per_worker) is replaced at once.
TEST_F(PoolOnFakeOs, AQuickDeathWaitsASecondAndARecycleDoesNot) {
  executor_->Start();
  AttachAll();
  executor_->OnChildExit(WorkerPid(0), Exited(1), rusage{});
  EXPECT_EQ(os_.workers.size(), 2u) << "not at once";
  os_.monotonic_us += 500000;
  executor_->OnTick();
  EXPECT_EQ(os_.workers.size(), 2u) << "not after half a second";
  os_.monotonic_us += 500000;
  executor_->OnTick();
  EXPECT_EQ(os_.workers.size(), 3u) << "after a second";

  executor_->OnChildExit(WorkerPid(1), Exited(0), rusage{});
  EXPECT_EQ(os_.workers.size(), 4u) << "a recycle is replaced at once";
  EXPECT_EQ(executor_->ProcessCount(), 2u);
}

TEST_F(PoolOnFakeOs, KillSignalsAnExecCommandsGroupAndEscalatesOnlyWhileItRuns) {
  const uint64_t exec = Submit(TaskKind::kExec), cpu = Submit(TaskKind::kCpu);
  const uint64_t ends = Submit(TaskKind::kExec);
  executor_->Start();
  AttachAll();
  ASSERT_EQ(Claim(0, 6000), exec);
  ASSERT_EQ(Claim(1), cpu);
  TaskRecord running;
  ASSERT_TRUE(segment_->RequestKill(exec, "killed by test", &running).ok());
  ASSERT_TRUE(executor_->Kill(running, SIGTERM, /*escalate=*/true));
  EXPECT_EQ(os_.signals, (std::vector<Signal>{{6000, SIGTERM}, {6000, SIGCONT}}));
  ASSERT_TRUE(RunUntil([&] { return Sent(6000, SIGKILL); })) << "still running after kill_grace";

  // A cpu task runs inside its worker: the kernel stops at its next check, nothing is signalled.
  os_.signals.clear();
  ASSERT_TRUE(segment_->RequestKill(cpu, "killed by test", &running).ok());
  EXPECT_TRUE(executor_->Kill(running, SIGTERM, true));
  EXPECT_TRUE(os_.signals.empty());

  // A command that ended before kill_grace ran out gets no SIGKILL (its group id may be reused).
  Record(exec, TaskState::kCancelled);
  executor_->OnChildExit(WorkerPid(0), Exited(0), rusage{});  // recycled: a new worker claims
  ASSERT_EQ(Claim(2, 7000), ends);
  ASSERT_TRUE(segment_->RequestKill(ends, "killed by test", &running).ok());
  ASSERT_TRUE(executor_->Kill(running, SIGTERM, true));
  Record(ends, TaskState::kCancelled);
  io_.restart();
  io_.run_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Sent(7000, SIGKILL));
  running.runner_pid = 424242;
  EXPECT_FALSE(executor_->Kill(running, SIGTERM, true)) << "not its worker";
}

TEST_F(PoolOnFakeOs, AShrinkRetiresTheNewestWorkersWhoAreNotReplaced) {
  executor_->Start();
  AttachAll();
  Options next = options_;
  next.workers = 1;
  ASSERT_TRUE(executor_->ApplyLive(next));
  EXPECT_EQ(Row(0).retire.load(), 0u);
  EXPECT_EQ(Row(1).retire.load(), 1u) << "the newest retires";
  executor_->OnChildExit(WorkerPid(1), Exited(0), rusage{});
  EXPECT_EQ(os_.workers.size(), 2u) << "a retired worker is not replaced";
  EXPECT_EQ(executor_->ProcessCount(), 1u);
  next.workers = 3;
  ASSERT_TRUE(executor_->ApplyLive(next));
  EXPECT_EQ(os_.workers.size(), 4u) << "growing starts the missing two";
  EXPECT_EQ(executor_->ProcessCount(), 3u);
  next.policy = Policy::kProcess;
  EXPECT_FALSE(executor_->ApplyLive(next)) << "another policy replaces the executor";
}

// Shutdown: every worker is asked to retire; at the end of shutdown_grace each running task is
// recorded killed at shutdown, the workers get SIGKILL and then their commands' groups. With
// keep_running the workers running an exec command (the keepers) are left alone.
TEST_F(PoolOnFakeOs, ShutdownRecordsTheRunsThenKillsWorkersThenCommandGroups) {
  const uint64_t exec = Submit(TaskKind::kExec), cpu = Submit(TaskKind::kCpu);
  executor_->Start();
  AttachAll();
  ASSERT_EQ(Claim(0, 8000), exec);
  ASSERT_EQ(Claim(1), cpu);
  executor_->BeginShutdown();
  EXPECT_EQ(Row(0).retire.load(), 1u);
  EXPECT_EQ(Row(1).retire.load(), 1u);
  EXPECT_FALSE(executor_->OnlyKeepersLeft());
  executor_->KillAllButKeepers();
  EXPECT_EQ(os_.process_signals, (std::vector<Signal>{{WorkerPid(1), SIGKILL}}));
  EXPECT_TRUE(os_.task_groups_killed.empty());
  EXPECT_EQ(StateOf(exec), TaskState::kRunning) << "its worker keeps it";
  EXPECT_NE(Info(cpu).reason().find(kKilledAtShutdown), std::string::npos) << Info(cpu).reason();

  os_.order.clear();
  executor_->KillAll();
  // The workers first, then their commands' groups: a worker that saw its command die first
  // could record an ordinary failure.
  EXPECT_EQ(os_.order,
            (std::vector<std::string>{fmt::format("process {} {}", WorkerPid(0), SIGKILL),
                                      fmt::format("process {} {}", WorkerPid(1), SIGKILL),
                                      "task group 8000"}));
  EXPECT_NE(Info(exec).reason().find(kKilledAtShutdown), std::string::npos) << Info(exec).reason();
  executor_->OnChildExit(WorkerPid(0), KilledBy(SIGKILL), rusage{});
  executor_->OnChildExit(WorkerPid(1), KilledBy(SIGKILL), rusage{});
  EXPECT_TRUE(executor_->Stopped());
  EXPECT_EQ(os_.workers.size(), 2u) << "nothing is replaced during shutdown";
}

}  // namespace
}  // namespace taskq::testing
