// Running exec tasks outlive their supervisor (issue 17): the runner that keeps a command (a pool
// worker, or the `process` policy's per-task runner) goes on when taskqd dies or stops with
// `keep_running`, records the result itself, and the next taskqd adopts it instead of killing
// it. Each test checks the command ran once, to its end, with its output and exit code. Under
// both local policies.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class KeepRunning : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A command that notes each run in `runs`, then waits for the test to create `gate` (after the
// supervisor restart: a sleep could end before a slow restart did) and ends. It gives up after
// 2 minutes, so a test that failed first leaves no shell behind (keep_running spares it).
uint64_t SubmitLongTask(Daemon& daemon, const std::string& runs, const std::string& gate) {
  return SubmitTask(daemon, {"exec", "--", "/bin/sh", "-c",
                             "echo run >> \"$0\"; i=0; while [ ! -e \"$1\" ] && [ $i -lt 2400 ]; "
                             "do sleep 0.05; i=$((i+1)); done; echo done; exit 0",
                             runs, gate});
}

void Open(const std::string& gate) { std::ofstream(gate).put('\n'); }

// The task ended succeeded, exit 0, with its output, in one attempt and one run.
void ExpectRanOnceToItsEnd(Daemon& daemon, uint64_t id, const std::string& runs) {
  const CommandResult waited = daemon.Taskq({"wait", std::to_string(id)});
  EXPECT_EQ(waited.exit_code, 0) << Describe(waited);
  const json task = TaskOf(daemon, id);
  EXPECT_EQ(task.value("state", ""), "succeeded") << task.dump();
  EXPECT_EQ(task["exit_code"], 0) << task.dump();
  EXPECT_EQ(task.value("attempts", 0), 1) << task.dump();
  EXPECT_EQ(daemon.Taskq({"logs", std::to_string(id)}).out, "done\n");
  EXPECT_EQ(CountLines(runs), 1u) << "the command ran more than once";
}

// Submits a command that runs until killed, then SIGKILLs the supervisor under it and starts a
// new one, which adopts the command's runner. Returns the task's id (0 on a failed step).
uint64_t AdoptALongCommand(Daemon& daemon) {
  const std::string started = daemon.dir() + "/started";
  const uint64_t id = SubmitTask(
      daemon, {"exec", "--", "/bin/sh", "-c", "echo up > \"$0\"; exec sleep 300", started});
  if (id == 0 || !WaitUntil([&] { return Exists(started); })) return 0;
  daemon.Kill();
  if (!daemon.Start() || !daemon.WaitForLog("adopted")) return 0;
  return id;
}

// The test, with SIGKILL: the supervisor dies, the command goes on, the next supervisor
// adopts its runner and the task ends as if nothing happened.
TEST_P(KeepRunning, ATaskOutlivesAKilledSupervisor) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string runs = daemon.dir() + "/runs";
  const std::string gate = daemon.dir() + "/gate";
  const uint64_t id = SubmitLongTask(daemon, runs, gate);
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return Exists(runs); }));
  daemon.Kill();
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_TRUE(daemon.WaitForLog("adopted")) << daemon.log();
  Open(gate);
  ExpectRanOnceToItsEnd(daemon, id, runs);
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Stop(), 0);
}

// SIGTERM with --keep-running: taskqd stops without waiting for the exec task or killing it
// (the task is still running when it has exited), and the next one adopts it.
TEST_P(KeepRunning, ATaskOutlivesAKeepRunningStop) {
  Daemon daemon(FaultSettings(policy()), {"--keep-running"});
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string runs = daemon.dir() + "/runs";
  const std::string gate = daemon.dir() + "/gate";
  const uint64_t id = SubmitLongTask(daemon, runs, gate);
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return Exists(runs); }));
  ASSERT_EQ(daemon.Stop(), 0);
  EXPECT_EQ(StateOf(daemon, id), "running") << "the stop waited for or killed the task";
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Open(gate);
  ExpectRanOnceToItsEnd(daemon, id, runs);
  EXPECT_EQ(daemon.Stop(), 0);
}

// An adopted task is steered like any other: `taskq kill` ends it `cancelled`, nothing left.
TEST_P(KeepRunning, AnAdoptedTaskCanBeKilled) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = AdoptALongCommand(daemon);
  ASSERT_NE(id, 0u) << daemon.log();
  const CommandResult killed = daemon.Taskq({"kill", std::to_string(id)});
  EXPECT_EQ(killed.exit_code, 0) << Describe(killed);
  EXPECT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Stop(), 0);
}

// An adopted runner that dies before recording leaves its task `lost` with a reason that says
// so, as any runner's death does, and its command is killed.
TEST_P(KeepRunning, AnAdoptedRunnerThatDiesLosesItsTask) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = AdoptALongCommand(daemon);
  ASSERT_NE(id, 0u) << daemon.log();
  const pid_t runner = TaskOf(daemon, id).value("pid", 0);
  ASSERT_GT(runner, 1);
  ASSERT_EQ(::kill(runner, SIGKILL), 0);
  EXPECT_TRUE(ReachesState(daemon, id, "lost")) << TaskOf(daemon, id).dump();
  EXPECT_NE(TaskOf(daemon, id).value("reason", "").find("adopted"), std::string::npos)
      << TaskOf(daemon, id).dump();
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, KeepRunning, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
