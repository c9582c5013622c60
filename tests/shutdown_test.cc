// SIGTERM/SIGINT on a real taskqd, under both policies: intake stops, a running task gets
// shutdown_grace and is then killed with its whole process group and marked; queued tasks stay
// queued in the segment (which outlives the daemon) and run after the next start; exit code 0.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

nlohmann::json Json(Daemon& daemon, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--json"};
  all.insert(all.end(), args.begin(), args.end());
  const CommandResult r = daemon.Taskq(all);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return nlohmann::json::parse(FirstLine(r.out), nullptr, false);
}

uint64_t Submit(Daemon& daemon, const std::vector<std::string>& kind) {
  std::vector<std::string> args = {"submit"};
  args.insert(args.end(), kind.begin(), kind.end());
  nlohmann::json r = Json(daemon, args);
  return r.is_object() ? r.value("id", uint64_t{0}) : 0;
}

std::string State(Daemon& daemon, uint64_t id) {
  nlohmann::json task = Json(daemon, {"status", std::to_string(id)});
  return task.is_object() ? task.value("state", "") : "";
}

// Processes whose command line contains `marker`.
int ProcessesWith(const std::string& marker) {
  int n = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(marker) != std::string::npos) ++n;
  }
  closedir(proc);
  return n;
}

class Shutdown : public ::testing::TestWithParam<std::string> {};

TEST_P(Shutdown, GraceOverKillsTheRunningTaskAndKeepsTheQueue) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 1\nmax_parallel: 1\nshutdown_grace: 0.5s\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  // A shell that runs a sleep: both must die, the whole process group. The odd durations mark
  // them in the process table.
  const std::string marker = "300.000" + std::to_string(getpid() % 1000000);
  const uint64_t running = Submit(
      daemon, {"exec", "--", "/bin/sh", "-c", "sleep " + marker + "; echo never", "sh-" + marker});
  ASSERT_NE(running, 0u);
  ASSERT_TRUE(WaitUntil([&] { return State(daemon, running) == "running"; })) << daemon.log();
  ASSERT_TRUE(WaitUntil([&] { return ProcessesWith(marker) == 2; })) << ProcessesWith(marker);
  const uint64_t queued1 = Submit(daemon, {"cpu", "--count", "1000"});
  const uint64_t queued2 = Submit(daemon, {"exec", "--", "/bin/true"});
  EXPECT_EQ(State(daemon, queued1), "queued");
  EXPECT_EQ(State(daemon, queued2), "queued");

  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("SIGTERM received: draining"), std::string::npos) << log;
  EXPECT_NE(log.find("shutdown_grace (500 ms) is over: killing running tasks"), std::string::npos)
      << log;
  EXPECT_TRUE(WaitUntil([&] { return ProcessesWith(marker) == 0; }))
      << "the task's process group survived the shutdown";

  // A fresh read of the segment, which persists after the daemon exited.
  ASSERT_FALSE(daemon.running());
  nlohmann::json killed = Json(daemon, {"status", std::to_string(running)});
  EXPECT_EQ(killed.value("state", ""), "lost") << killed.dump();
  EXPECT_EQ(killed.value("signal", 0), SIGKILL) << killed.dump();
  EXPECT_NE(killed.value("reason", "").find("killed at shutdown after shutdown_grace"),
            std::string::npos)
      << killed.dump();
  EXPECT_EQ(State(daemon, queued1), "queued");
  EXPECT_EQ(State(daemon, queued2), "queued");

  // The next start runs what was queued, and only that.
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult waited =
      daemon.Taskq({"wait", "--timeout", "120", std::to_string(queued1), std::to_string(queued2)});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err << daemon.log();
  EXPECT_EQ(State(daemon, queued1), "succeeded");
  EXPECT_EQ(State(daemon, queued2), "succeeded");
  EXPECT_EQ(State(daemon, running), "lost");
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
}

// Within shutdown_grace a running task finishes normally, and nothing new starts meanwhile.
TEST_P(Shutdown, RunningTaskFinishesWithinGrace) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 1\nmax_parallel: 1\nshutdown_grace: 10m\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string gate = daemon.dir() + "/gate";
  const uint64_t running = Submit(
      daemon, {"exec", "--", "/bin/sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.02; done", gate});
  ASSERT_TRUE(WaitUntil([&] { return State(daemon, running) == "running"; })) << daemon.log();
  const uint64_t queued = Submit(daemon, {"cpu", "--count", "1000"});
  ASSERT_TRUE(daemon.Signal(SIGINT));
  ASSERT_TRUE(daemon.WaitForLog("SIGINT received: draining")) << daemon.log();
  // Still draining: the task waits for its gate, so the daemon must still be there.
  EXPECT_EQ(daemon.WaitExit(0), -1) << daemon.log();
  EXPECT_EQ(State(daemon, running), "running");
  std::ofstream(gate) << "go\n";
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.log();
  EXPECT_EQ(State(daemon, running), "succeeded");
  EXPECT_EQ(State(daemon, queued), "queued");
  EXPECT_EQ(daemon.log().find("is over: killing"), std::string::npos) << daemon.log();
}

TEST_P(Shutdown, IdleDaemonExitsAtOnce) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 2\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
  EXPECT_NE(daemon.log().find("stopped"), std::string::npos) << daemon.log();
}

INSTANTIATE_TEST_SUITE_P(Policies, Shutdown, ::testing::Values("pool", "process"));

}  // namespace
}  // namespace taskq::testing
