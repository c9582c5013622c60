// `taskq pause` / `taskq resume` (issue 16): a running exec task's process group is stopped
// (SIGSTOP) and continued (SIGCONT); a built-in cpu/io task waits at its next check, in the pool
// inside a worker that lives on. A paused task shows state `paused`; its pause counts neither as
// run time nor against its timeout. Under both local policies.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/spawn.h"
#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class Pause : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The pid the command wrote to `path` once it ran (0 until then).
pid_t PidIn(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

TEST_P(Pause, AnExecTaskStopsGoesOnAndCanBeKilledWhilePaused) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  // `exec sleep` keeps the shell's pid: the pid written is the command's.
  const uint64_t id = SubmitTask(
      daemon, {"exec", "--", "/bin/sh", "-c", "echo $$ > \"$0\"; exec sleep 300", started});
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return PidIn(started) > 0; }));
  const pid_t command = PidIn(started);
  const std::string sid = std::to_string(id);

  CommandResult r = daemon.Taskq({"pause", sid});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "task " + sid + " paused\n");
  EXPECT_TRUE(WaitUntil([&] { return ProcessStopped(command); }));
  json task = TaskOf(daemon, id);
  EXPECT_EQ(task["state"], "paused") << task.dump();
  EXPECT_EQ(task["paused"], true) << task.dump();
  EXPECT_NE(daemon.Taskq({"status", sid}).out.find("state:       paused"), std::string::npos);
  EXPECT_NE(daemon.Taskq({"list"}).out.find(" paused "), std::string::npos);

  r = daemon.Taskq({"pause", sid});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("paused already"), std::string::npos) << r.err;

  r = daemon.Taskq({"--json", "resume", sid});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r.out)["paused"], false) << r.out;
  EXPECT_TRUE(WaitUntil([&] { return !ProcessStopped(command); }));
  EXPECT_EQ(StateOf(daemon, id), "running");
  r = daemon.Taskq({"resume", sid});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("not paused already"), std::string::npos) << r.err;

  // A kill of a paused task continues it, so it can act on the signal.
  ASSERT_EQ(daemon.Taskq({"pause", sid}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return ProcessStopped(command); }));
  ASSERT_EQ(daemon.Taskq({"kill", sid}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  task = TaskOf(daemon, id);
  EXPECT_EQ(task["paused"], false) << task.dump();
  EXPECT_GT(task["paused_us"].get<uint64_t>(), 0u) << task.dump();
  EXPECT_TRUE(NoTaskProcessesLeft(daemon.queue()));
  EXPECT_EQ(daemon.Stop(), 0);
}

// A task that waits for a gate under a 12 s timeout, paused for 12.5 s (the gate opens meanwhile):
// it succeeds right after the resume, and the pause is paused_us, not run_us. The gate, not a
// sleep, ends it, so a slow machine cannot make it run past the timeout before the pause (the
// runner's start and one `taskq pause` fall inside the timeout: seconds under ASan on 2 loaded
// CPUs).
TEST_P(Pause, PausedTimeIsNeitherRunTimeNorCountedAgainstTheTimeout) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const std::string gate = daemon.dir() + "/gate";
  const uint64_t id = SubmitTask(
      daemon, {"exec", "--timeout", "12", "--", "/bin/sh", "-c",
               "echo $$ > \"$0\"; while [ ! -e \"$1\" ]; do sleep 0.05; done", started, gate});
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(WaitUntil([&] { return PidIn(started) > 0; }));
  const std::string sid = std::to_string(id);
  ASSERT_EQ(daemon.Taskq({"pause", sid}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return ProcessStopped(PidIn(started)); }));
  std::ofstream(gate).put('\n');
  std::this_thread::sleep_for(std::chrono::milliseconds(12500));  // past the timeout, paused
  EXPECT_EQ(StateOf(daemon, id), "paused");
  ASSERT_EQ(daemon.Taskq({"resume", sid}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, id, "succeeded")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  const uint64_t paused = task["paused_us"].get<uint64_t>();
  const uint64_t run = task["run_us"].get<uint64_t>();
  EXPECT_GE(paused, 12500000u) << task.dump();
  EXPECT_LT(run, 12000000u) << task.dump();  // under the timeout, or it would have timed out
  EXPECT_NE(daemon.Taskq({"status", sid}).out.find("paused:"), std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);
}

// An io task writing into a FIFO this test reads: once paused it writes at most what the pipe
// holds plus the block under way, then nothing until resumed; its worker (pool) lives on. Its
// 15 s timeout does not fire during a 16 s pause (the in-process alarm is disarmed meanwhile); the
// timeout leaves a slow machine room for the steps before the pause and after the resume.
TEST_P(Pause, ABuiltInTaskWaitsAtItsNextCheck) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string io_dir = daemon.state_dir() + "/io";
  ::mkdir(io_dir.c_str(), 0700);
  const std::string fifo = io_dir + "/pause.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  const std::vector<pid_t> workers = WorkerPids(daemon);
  const uint64_t id = SubmitTask(daemon, {"io", "--timeout", "15", "--path", "pause.fifo",
                                          "--bytes", "1000000000", "--block", "4096"});
  ASSERT_NE(id, 0u);
  pollfd readable{reader, POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, kFaultWaitMs), 1);
  const std::string sid = std::to_string(id);
  ASSERT_EQ(daemon.Taskq({"pause", sid}).exit_code, 0);

  // Read until a whole second passes without a byte: a writer that went on would fill the pipe
  // again at once, for ever.
  char buffer[65536];
  size_t after_pause = 0;
  while (after_pause < (size_t{16} << 20)) {
    readable = {reader, POLLIN, 0};
    if (::poll(&readable, 1, 1000) == 0) break;
    const ssize_t n = ::read(reader, buffer, sizeof(buffer));
    if (n <= 0) break;
    after_pause += static_cast<size_t>(n);
  }
  EXPECT_LE(after_pause, size_t{1} << 20) << "the paused task kept writing";
  std::this_thread::sleep_for(std::chrono::seconds(15));  // the pause outlasts the timeout
  EXPECT_EQ(StateOf(daemon, id), "paused") << TaskOf(daemon, id).dump();

  ASSERT_EQ(daemon.Taskq({"resume", sid}).exit_code, 0);
  readable = {reader, POLLIN, 0};
  EXPECT_EQ(::poll(&readable, 1, kFaultWaitMs), 1) << "the resumed task did not write again";
  ASSERT_EQ(daemon.Taskq({"kill", sid}).exit_code, 0);
  ASSERT_EQ(::fcntl(reader, F_SETFL, 0), 0);
  while (::read(reader, buffer, sizeof(buffer)) > 0) {
  }
  ::close(reader);
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled")) << TaskOf(daemon, id).dump();
  EXPECT_EQ(WorkerPids(daemon), workers);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST_P(Pause, OnlyRunningTasksCanBePaused) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string started = daemon.dir() + "/started";
  const uint64_t running = SubmitTask(
      daemon, {"exec", "--", "/bin/sh", "-c", "echo $$ > \"$0\"; exec sleep 300", started});
  ASSERT_TRUE(WaitUntil([&] { return Exists(started); }));
  const uint64_t queued = SubmitTask(daemon, {"exec", "--", "/bin/true"});
  CommandResult r = daemon.Taskq({"pause", std::to_string(queued)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("only running tasks can be paused"), std::string::npos) << r.err;
  r = daemon.Taskq({"resume", "99999"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.err.find("no task 99999"), std::string::npos) << r.err;
  r = daemon.Taskq({"pause", "x"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(running)}).exit_code, 0);
  EXPECT_TRUE(ReachesState(daemon, queued, "succeeded"));
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Pause, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
