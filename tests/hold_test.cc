// `taskq hold` / `taskq release` and `submit --hold` (issue 16): a held task stays queued while
// the tasks behind it run, until released; hold and release are for queued tasks only. Order is
// what the tests check, never time: one runner, a held task first, then one that is not.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class Hold : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

TEST_P(Hold, AHeldTaskWaitsWhileTheNextRunsAndRunsOnceReleased) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t held = SubmitTask(daemon, {"--hold", "exec", "--", "/bin/true"});
  ASSERT_NE(held, 0u);
  const uint64_t next = SubmitTask(daemon, {"exec", "--", "/bin/true"});
  ASSERT_EQ(daemon.Taskq({"wait", std::to_string(next)}).exit_code, 0);
  json task = TaskOf(daemon, held);
  EXPECT_EQ(task["state"], "queued") << task.dump();
  EXPECT_EQ(task["held"], true) << task.dump();
  EXPECT_EQ(task["spec"].value("hold", false), false) << "hold is the task's state, not its spec";
  const CommandResult list = daemon.Taskq({"list"});
  EXPECT_NE(list.out.find("held"), std::string::npos) << list.out;
  const CommandResult status = daemon.Taskq({"status", std::to_string(held)});
  EXPECT_NE(status.out.find("queued (held"), std::string::npos) << status.out;

  const CommandResult released = daemon.Taskq({"release", std::to_string(held)});
  EXPECT_EQ(released.exit_code, 0) << Describe(released);
  EXPECT_EQ(released.out, "task " + std::to_string(held) + " released\n");
  EXPECT_EQ(daemon.Taskq({"wait", std::to_string(held)}).exit_code, 0);
  EXPECT_EQ(TaskOf(daemon, held)["held"], false);
  EXPECT_EQ(daemon.Stop(), 0);
}

// The kind's own --hold (as on a batch line) and `submit --hold --batch` (every line).
TEST_P(Hold, BatchLinesAndWholeBatchesCanBeHeld) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  CommandResult r =
      daemon.Taskq({"submit", "--batch", "-"}, "cpu --count 10 --hold\ncpu --count 10\n");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::istringstream ids(r.out);
  uint64_t first = 0, second = 0;
  ids >> first >> second;
  ASSERT_EQ(daemon.Taskq({"wait", std::to_string(second)}).exit_code, 0);
  EXPECT_EQ(TaskOf(daemon, first)["held"], true);

  r = daemon.Taskq({"submit", "--hold", "--batch", "-"}, "cpu --count 10\ncpu --count 10\n");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::istringstream more(r.out);
  uint64_t third = 0, fourth = 0;
  more >> third >> fourth;
  EXPECT_EQ(TaskOf(daemon, third)["held"], true);
  EXPECT_EQ(TaskOf(daemon, fourth)["held"], true);
  const CommandResult released = daemon.Taskq(
      {"--json", "release", std::to_string(first), std::to_string(third), std::to_string(fourth)});
  EXPECT_EQ(released.exit_code, 0) << Describe(released);
  EXPECT_NE(released.out.find("\"held\":false"), std::string::npos) << released.out;
  EXPECT_EQ(daemon.Taskq({"wait", "--all", "--timeout", "60"}).exit_code, 0);
  EXPECT_EQ(daemon.Stop(), 0);
}

// hold and release act on queued tasks only, each once; a held task whose dependency failed
// fails like any other (held or not, it can never run).
TEST_P(Hold, OnlyQueuedTasksAreHeldOrReleased) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t later = SubmitTask(daemon, {"cpu", "--count", "10", "--delay", "1h"});
  ASSERT_NE(later, 0u);
  EXPECT_EQ(daemon.Taskq({"hold", std::to_string(later)}).exit_code, 0);
  CommandResult r = daemon.Taskq({"hold", std::to_string(later)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("held already"), std::string::npos) << r.err;
  EXPECT_EQ(daemon.Taskq({"release", std::to_string(later)}).exit_code, 0);
  EXPECT_EQ(TaskOf(daemon, later)["held"], false);
  EXPECT_EQ(TaskOf(daemon, later)["state"], "queued") << "its delay still holds it";
  r = daemon.Taskq({"release", std::to_string(later)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("not held already"), std::string::npos) << r.err;

  const uint64_t done = SubmitTask(daemon, {"exec", "--", "/bin/true"});
  ASSERT_EQ(daemon.Taskq({"wait", std::to_string(done)}).exit_code, 0);
  r = daemon.Taskq({"hold", std::to_string(done)});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("only queued tasks can be held"), std::string::npos) << r.err;
  r = daemon.Taskq({"release", "999999"});
  EXPECT_EQ(r.exit_code, 2) << Describe(r);

  const uint64_t fails = SubmitTask(daemon, {"exec", "--", "/bin/false"});
  const uint64_t dependent =
      SubmitTask(daemon, {"--hold", "exec", "--after", std::to_string(fails), "--", "/bin/true"});
  ASSERT_NE(dependent, 0u);
  EXPECT_TRUE(ReachesState(daemon, dependent, "failed")) << TaskOf(daemon, dependent).dump();
  EXPECT_EQ(daemon.Taskq({"cancel", std::to_string(later)}).exit_code, 0);
  EXPECT_EQ(daemon.Stop(), 0);
}

// `list` says why a queued task has not started (held, after ID, at TIME) and why a finished one
// did not succeed, with submit times in local time or UTC (the zone in the header).
TEST_P(Hold, ListSaysWhyATaskWaitsOrFailed) {
  Daemon daemon(FaultSettings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t fails = SubmitTask(daemon, {"exec", "--", "/bin/sh", "-c", "exit 7"});
  ASSERT_NE(daemon.Taskq({"wait", std::to_string(fails)}).exit_code, 0);
  const uint64_t held = SubmitTask(daemon, {"--hold", "cpu", "--count", "10"});
  const uint64_t after =
      SubmitTask(daemon, {"cpu", "--count", "10", "--after", std::to_string(held)});
  const uint64_t later = SubmitTask(daemon, {"cpu", "--count", "10", "--at", "@4102444800"});
  ASSERT_NE(later, 0u);
  const CommandResult list = daemon.Taskq({"list", "--utc"});
  ASSERT_EQ(list.exit_code, 0) << Describe(list);
  std::istringstream lines(list.out);
  std::string header, failed_row, held_row, after_row, later_row;
  std::getline(lines, header);
  std::getline(lines, failed_row);
  std::getline(lines, held_row);
  std::getline(lines, after_row);
  std::getline(lines, later_row);
  EXPECT_NE(header.find("SUBMITTED(UTC)"), std::string::npos) << header;
  EXPECT_NE(failed_row.find("exit 7"), std::string::npos) << failed_row;
  EXPECT_NE(held_row.find(" held "), std::string::npos) << held_row;
  EXPECT_NE(after_row.find(" after " + std::to_string(held) + " "), std::string::npos) << after_row;
  EXPECT_NE(later_row.find(" at 01-01 00:00:00 "), std::string::npos) << later_row;  // 2100
  // The dependency first on the line: cancel takes the newest first, so `after` is cancelled
  // itself instead of failed by its dependency's cancel (which the daemon would do at once).
  const CommandResult cancelled =
      daemon.Taskq({"cancel", std::to_string(held), std::to_string(after), std::to_string(later)});
  EXPECT_EQ(cancelled.exit_code, 0) << Describe(cancelled);
  EXPECT_EQ(cancelled.out, "task " + std::to_string(held) + " cancelled\ntask " +
                               std::to_string(after) + " cancelled\ntask " + std::to_string(later) +
                               " cancelled\n")
      << "the lines in the order given";
  EXPECT_EQ(TaskOf(daemon, after)["state"], "cancelled") << TaskOf(daemon, after).dump();
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Hold, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
