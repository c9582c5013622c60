// `taskq kill` (issue 16): a running task's whole process group gets SIGTERM (SIGKILL after
// kill_grace) or the --signal given; the task ends `cancelled` with who killed it and how, never
// `failed` or `lost`; a pool worker survives the kill of the task it runs. Under both local
// policies. No test waits a fixed time: each waits for a state, a file or a process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class Kill : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// An exec task that writes `started` once it runs, then runs until killed.
uint64_t SubmitLongCommand(Daemon& daemon, const std::string& started, const std::string& script) {
  return SubmitTask(daemon, {"exec", "--", "/bin/sh", "-c", script, started});
}

TEST_P(Kill, ARunningCommandEndsCancelledAndItsRunnerLives) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t id = SubmitLongCommand(daemon, started, "echo up > \"$0\"; exec sleep 300");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return Exists(started); }));
  std::vector<pid_t> workers = WorkerPids(daemon);

  const CommandResult r = daemon.Taskq({"kill", std::to_string(id)});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "task " + std::to_string(id) + ": SIGTERM sent\n");
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  const std::string reason = task.value("reason", "");
  EXPECT_NE(reason.find("killed by "), std::string::npos) << reason;
  EXPECT_NE(reason.find("with SIGTERM"), std::string::npos) << reason;
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));

  // The pool's workers are the same processes, and the next task runs.
  std::vector<pid_t> after = WorkerPids(daemon);
  std::sort(workers.begin(), workers.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(workers, after);
  const uint64_t next = SubmitTask(daemon, {"exec", "--", "/bin/true"});
  EXPECT_TRUE(ReachesState(daemon, next, "succeeded"));
  EXPECT_EQ(daemon.Stop(), 0);
}

// A command that ignores SIGTERM gets SIGKILL after kill_grace (500 ms here), with every process
// of its group.
TEST_P(Kill, ACommandThatIgnoresTermIsKilledAfterTheGrace) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t id = SubmitLongCommand(
      daemon, started, "trap '' TERM; sleep 300 & echo up > \"$0\"; while :; do sleep 0.05; done");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return Exists(started); }));
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(id)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  EXPECT_NE(TaskOf(daemon, id).value("reason", "").find("SIGKILL"), std::string::npos)
      << TaskOf(daemon, id).dump();
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Stop(), 0);
}

// --signal sends that signal once; a command that traps it and exits is cancelled all the same.
TEST_P(Kill, SignalOptionSendsThatSignal) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t id = SubmitLongCommand(
      daemon, started,
      "trap 'echo usr1 > \"$0\"; exit 3' USR1; echo up > \"$0\"; while :; do sleep 0.05; done");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return Exists(started); }));
  const CommandResult r = daemon.Taskq({"--json", "kill", std::to_string(id), "--signal", "usr1"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r.out)["signal"], "SIGUSR1") << r.out;
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  EXPECT_NE(task.value("reason", "").find("with SIGUSR1"), std::string::npos) << task.dump();
  EXPECT_EQ(task["exit_code"], 3) << task.dump();
  std::ifstream in(started);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "usr1");
  EXPECT_EQ(daemon.Stop(), 0);
}

// A built-in io task: in the pool it runs inside the worker, which must survive. The task writes
// into a FIFO this test reads, so it cannot finish before the kill: the test reads the first
// bytes (the task is in its write loop), kills it, then drains the FIFO to its end.
TEST_P(Kill, ABuiltInTaskStopsAndItsWorkerLives) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string io_dir = daemon.state_dir() + "/io";
  ::mkdir(io_dir.c_str(), 0700);
  const std::string fifo = io_dir + "/kill.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  std::vector<pid_t> workers = WorkerPids(daemon);
  const uint64_t id =
      SubmitTask(daemon, {"io", "--path", "kill.fifo", "--bytes", "1000000000", "--block", "4096"});
  ASSERT_NE(id, 0u);
  // A read before the task opens its end would see EOF (no writer yet): wait for bytes first.
  pollfd readable{reader, POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, kFaultWaitMs), 1);
  ASSERT_EQ(::fcntl(reader, F_SETFL, 0), 0);  // blocking reads from here on
  char buffer[65536];
  ASSERT_GT(::read(reader, buffer, sizeof(buffer)), 0);
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(id)}).exit_code, 0);
  while (::read(reader, buffer, sizeof(buffer)) > 0) {
  }
  ::close(reader);
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  EXPECT_NE(TaskOf(daemon, id).value("reason", "").find("killed by "), std::string::npos)
      << TaskOf(daemon, id).dump();
  std::vector<pid_t> after = WorkerPids(daemon);
  std::sort(workers.begin(), workers.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(workers, after);
  const uint64_t next = SubmitTask(daemon, {"cpu", "--count", "1000"});
  EXPECT_TRUE(ReachesState(daemon, next, "succeeded"));
  EXPECT_EQ(daemon.Stop(), 0);
}

// `kill` is for running tasks and `cancel` for queued ones; each names the other.
TEST_P(Kill, KillAndCancelEachPointToTheOther) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t running = SubmitLongCommand(daemon, started, "echo up > \"$0\"; exec sleep 300");
  ASSERT_TRUE(WaitUntil([&] { return Exists(started); }));
  const uint64_t queued = SubmitTask(daemon, {"exec", "--", "/bin/true"});
  ASSERT_EQ(StateOf(daemon, queued), "queued");

  CommandResult r = daemon.Taskq({"kill", std::to_string(queued)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("taskq cancel " + std::to_string(queued)), std::string::npos) << r.err;
  r = daemon.Taskq({"cancel", std::to_string(running)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("taskq kill " + std::to_string(running)), std::string::npos) << r.err;
  EXPECT_EQ(StateOf(daemon, running), "running");

  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(running)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, running, "cancelled"));
  EXPECT_TRUE(ReachesState(daemon, queued, "succeeded"));
  r = daemon.Taskq({"kill", std::to_string(running)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("already ended"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Kill, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

// A signal kill does not send is refused before anything is asked of a daemon: exit 2, one line.
TEST(KillArgs, ASignalKillDoesNotSendExitsTwo) {
  Daemon daemon;
  for (const char* bad : {"STOP", "SIGCONT", "SEGV", "0", "99", "TERMX"}) {
    const CommandResult r = daemon.Taskq({"kill", "1", "--signal", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << Describe(r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("--signal"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace taskq::testing
