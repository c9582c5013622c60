// Retries and restarts (issue 16): `--retries N --retry-on lost|failed|timed_out` retries the ends
// it names (default: lost only), `--retry-delay 1s[..MAX]` waits before each retry (doubling up
// to MAX), `taskq restart ID…|--failed` runs finished tasks again as new attempts of the same id.
// Every attempt is recorded with how it ended (attempt_log) and keeps its logs (`logs --attempt N`,
// <id>.<attempt>.out|err). Under both local policies.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class Retry : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

// A command that counts its runs in `counter` and prints the run number; it fails until its
// `succeed_from`th run.
Args CountingCommand(const std::string& counter, int succeed_from) {
  return {"/bin/sh", "-c",
          "n=$(cat \"$0\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$0\"; echo out-$n; "
          "echo err-$n >&2; test $n -ge " +
              std::to_string(succeed_from),
          counter};
}

uint64_t SubmitWith(Daemon& daemon, Args options, const Args& command) {
  Args args = {"exec"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return SubmitTask(daemon, args);
}

TEST_P(Retry, ARetriedFailureKeepsBothAttemptsLogs) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = SubmitWith(daemon, {"--retries", "1", "--retry-on", "failed"},
                                 CountingCommand(daemon.dir() + "/count", 2));
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(ReachesState(daemon, id, "succeeded")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  EXPECT_EQ(task["attempts"], 2) << task.dump();
  EXPECT_EQ(task["retry_on"], "failed") << task.dump();
  const json log = task["attempt_log"];
  ASSERT_EQ(log.size(), 2u) << task.dump();
  EXPECT_EQ(log[0]["state"], "failed");
  EXPECT_EQ(log[0]["exit_code"], 1);
  EXPECT_EQ(log[1]["state"], "succeeded");
  EXPECT_EQ(log[1]["exit_code"], 0);

  const std::string sid = std::to_string(id);
  EXPECT_EQ(daemon.Taskq({"logs", sid, "--attempt", "1"}).out, "out-1\n");
  EXPECT_EQ(daemon.Taskq({"logs", sid, "--attempt", "2"}).out, "out-2\n");
  EXPECT_EQ(daemon.Taskq({"logs", sid}).out, "out-2\n");  // the latest
  EXPECT_EQ(daemon.Taskq({"logs", sid, "--stderr", "--attempt", "1"}).out, "err-1\n");
  for (const char* name : {".1.out", ".1.err", ".2.out", ".2.err"}) {
    EXPECT_EQ(::access((daemon.state_dir() + "/logs/" + sid + name).c_str(), F_OK), 0) << name;
  }
  const CommandResult none = daemon.Taskq({"logs", sid, "--attempt", "3"});
  EXPECT_EQ(none.exit_code, 2) << Describe(none);
  EXPECT_NE(none.err.find("--attempt"), std::string::npos) << none.err;
  EXPECT_NE(daemon.Taskq({"status", sid}).out.find("attempt 1: failed (exit 1)"),
            std::string::npos);
  EXPECT_EQ(daemon.Stop(), 0);
}

// Without --retry-on, --retries covers a lost runner only: a failing command is not retried.
TEST_P(Retry, ByDefaultOnlyALostRunnerIsRetried) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = SubmitWith(daemon, {"--retries", "2"}, {"/bin/sh", "-c", "exit 1"});
  ASSERT_TRUE(ReachesState(daemon, id, "failed"));
  EXPECT_EQ(TaskOf(daemon, id)["attempts"], 1);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST_P(Retry, TimedOutRunsAreRetriedWhenAsked) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id =
      SubmitWith(daemon, {"--timeout", "0.2", "--retries", "1", "--retry-on", "timed_out,failed"},
                 {"/bin/sleep", "30"});
  ASSERT_TRUE(ReachesState(daemon, id, "timed_out")) << TaskOf(daemon, id).dump();
  const json task = TaskOf(daemon, id);
  EXPECT_EQ(task["attempts"], 2) << task.dump();
  EXPECT_EQ(task["attempt_log"][0]["state"], "timed_out") << task.dump();
  EXPECT_EQ(daemon.Stop(), 0);
}

// The delay before each retry doubles from FIRST up to MAX; the waiting task says so. Every
// check reads the same snapshot the wait accepted (or, for `list`, one taken between two
// snapshots in the same state): a second look could land after the delay ran out.
TEST_P(Retry, RetryDelayDoublesUpToItsMaximum) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id =
      SubmitWith(daemon, {"--retries", "2", "--retry-on", "failed", "--retry-delay", "10s..12s"},
                 {"/bin/sh", "-c", "exit 1"});
  const auto waiting_after = [&](int attempts, const json& t) {
    return t.value("attempts", 0) == attempts && t.value("state", "") == "queued";
  };
  json first;
  std::string listing;
  ASSERT_TRUE(WaitUntil([&] {
    first = TaskOf(daemon, id);
    if (!waiting_after(1, first)) return false;
    listing = daemon.Taskq({"list"}).out;
    return waiting_after(1, TaskOf(daemon, id));
  })) << first.dump();
  EXPECT_NE(first.value("reason", "").find("retried in 10000 ms"), std::string::npos)
      << first.dump();
  EXPECT_NE(listing.find("at "), std::string::npos) << listing;  // why it waits
  json second;
  ASSERT_TRUE(WaitUntil([&] {
    second = TaskOf(daemon, id);
    return waiting_after(2, second);
  })) << second.dump();
  EXPECT_NE(second.value("reason", "").find("retried in 12000 ms"), std::string::npos)
      << second.dump();
  ASSERT_TRUE(ReachesState(daemon, id, "failed"));
  EXPECT_EQ(TaskOf(daemon, id)["attempts"], 3);
  EXPECT_EQ(daemon.Stop(), 0);
}

TEST_P(Retry, RestartRunsFinishedTasksAgainAsNewAttempts) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t failing = SubmitWith(daemon, {}, CountingCommand(daemon.dir() + "/count", 2));
  const uint64_t passing = SubmitWith(daemon, {}, {"/bin/true"});
  const std::string started = daemon.dir() + "/started";
  const uint64_t running =
      SubmitWith(daemon, {}, {"/bin/sh", "-c", "touch \"$0\"; exec sleep 300", started});
  ASSERT_TRUE(ReachesState(daemon, failing, "failed"));
  ASSERT_TRUE(ReachesState(daemon, passing, "succeeded"));
  ASSERT_TRUE(WaitUntil([&] { return ::access(started.c_str(), F_OK) == 0; }));

  const CommandResult r = daemon.Taskq({"restart", "--failed"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "task " + std::to_string(failing) + " restarted\n");
  ASSERT_TRUE(ReachesState(daemon, failing, "succeeded")) << TaskOf(daemon, failing).dump();
  EXPECT_EQ(TaskOf(daemon, failing)["attempts"], 2);
  EXPECT_EQ(TaskOf(daemon, passing)["attempts"], 1);
  EXPECT_EQ(daemon.Taskq({"logs", std::to_string(failing), "--attempt", "1"}).out, "out-1\n");
  EXPECT_EQ(daemon.Taskq({"logs", std::to_string(failing)}).out, "out-2\n");

  CommandResult refused = daemon.Taskq({"restart", std::to_string(running)});
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_NE(refused.err.find("only finished tasks can be restarted"), std::string::npos)
      << refused.err;
  refused = daemon.Taskq({"restart"});
  EXPECT_EQ(refused.exit_code, 2) << Describe(refused);
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(running)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, running, "cancelled"));
  // A killed task can be restarted too (by id).
  ASSERT_EQ(daemon.Taskq({"restart", std::to_string(running)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, running, "running"));
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(running)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, running, "cancelled"));
  EXPECT_EQ(TaskOf(daemon, running)["attempts"], 2);
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Retry, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

// Bad --retry-on and --retry-delay are refused before anything is asked of a daemon.
TEST(RetryArgs, BadRetryOptionsExitTwoNamingTheOption) {
  Daemon daemon;
  for (const Args& bad : std::vector<Args>{{"--retry-on", "succeeded"},
                                           {"--retry-on", "failed,,lost"},
                                           {"--retry-delay", "soon"},
                                           {"--retry-delay", "5s..1s"}}) {
    Args args = {"submit", "exec"};
    args.insert(args.end(), bad.begin(), bad.end());
    args.insert(args.end(), {"--", "/bin/true"});
    const CommandResult r = daemon.Taskq(args);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << " " << bad[1] << "\n" << Describe(r);
    EXPECT_NE(r.err.find(bad[0]), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace taskq::testing
