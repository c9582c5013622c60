// `taskq doctor [--repair]` (client/cmd_daemon.cc): exit 0 on a healthy segment; on a broken one
// it names each problem and exits 1; `--repair` mends it and exits 0 once the segment checks
// clean; no segment at all is exit 3. The broken segment is made the way it happens: daemon and
// workers SIGKILLed while tasks run, with no daemon started again.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

TEST(Doctor, HealthySegmentExits0) {
  Daemon daemon(FaultSettings("pool"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_EQ(daemon.Taskq({"submit", "--wait", "cpu", "--count", "100"}).exit_code, 0);
  const CommandResult human = daemon.Taskq({"doctor"});
  EXPECT_EQ(human.exit_code, 0) << Describe(human);
  EXPECT_EQ(human.out, "segment of queue '" + daemon.queue() + "' is healthy\n");
  const json j = TaskqJson(daemon, {"doctor"});
  EXPECT_EQ(j["healthy"], true) << j.dump();
  // --repair on a healthy segment changes nothing.
  const json repaired = TaskqJson(daemon, {"doctor", "--repair"});
  EXPECT_EQ(repaired["healthy"], true) << repaired.dump();
  EXPECT_TRUE(repaired["repaired"].empty()) << repaired.dump();
  // Healthy also with no daemon running: the segment stays until `taskq purge`.
  ASSERT_EQ(daemon.Stop(), 0);
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0);
}

TEST(Doctor, NoSegmentExits3) {
  Daemon daemon(FaultSettings("pool"));
  const CommandResult r = daemon.Taskq({"doctor"});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
}

class DoctorRepair : public ::testing::TestWithParam<std::string> {};

TEST_P(DoctorRepair, TasksOfDeadRunnersAreReportedAndRepaired) {
  Daemon daemon(FaultSettings(GetParam()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string gate = daemon.dir() + "/gate";
  Args retried = AppendThenWaitTask(daemon.dir() + "/retried", gate);
  retried.insert(retried.begin() + 1, {"--retries", "1"});
  const uint64_t retry = SubmitTask(daemon, retried);
  const uint64_t once = SubmitTask(daemon, AppendThenWaitTask(daemon.dir() + "/once", gate));
  ASSERT_TRUE(ReachesState(daemon, retry, "running"));
  ASSERT_TRUE(ReachesState(daemon, once, "running"));
  const std::vector<pid_t> runners = {TaskOf(daemon, retry)["pid"].get<pid_t>(),
                                      TaskOf(daemon, once)["pid"].get<pid_t>()};

  // Everything of the daemon dies: supervisor, runners (an exec task's runner would outlive the
  // supervisor and record the result: it is killed too, before it can), the tasks' commands.
  daemon.Kill();
  for (pid_t pid : runners) ::kill(pid, SIGKILL);
  KillTaskProcesses(daemon.queue());
  for (pid_t pid : runners) {
    ASSERT_TRUE(WaitGone(pid)) << pid;
  }

  const CommandResult found = daemon.Taskq({"doctor"});
  EXPECT_EQ(found.exit_code, 1) << Describe(found);
  for (uint64_t id : {retry, once}) {
    EXPECT_NE(found.out.find("problem: task " + std::to_string(id) + " is running but its runner"),
              std::string::npos)
        << Describe(found);
  }
  const json report = TaskqJson(daemon, {"doctor"});  // exit 1: not JSON-parsed by TaskqJson
  EXPECT_TRUE(report.is_discarded());
  const CommandResult as_json = daemon.Taskq({"--json", "doctor"});
  EXPECT_EQ(as_json.exit_code, 1);
  const json problems = ParseJson(as_json.out);
  EXPECT_EQ(problems["healthy"], false) << as_json.out;
  EXPECT_EQ(problems["problems"].size(), 2u) << as_json.out;

  const CommandResult repaired = daemon.Taskq({"doctor", "--repair"});
  EXPECT_EQ(repaired.exit_code, 0) << Describe(repaired);
  EXPECT_NE(repaired.out.find("repaired: "), std::string::npos) << Describe(repaired);
  EXPECT_EQ(StateOf(daemon, retry), "queued") << "a retry was left: " << TaskOf(daemon, retry);
  EXPECT_EQ(StateOf(daemon, once), "lost") << TaskOf(daemon, once);
  const CommandResult again = daemon.Taskq({"doctor"});
  EXPECT_EQ(again.exit_code, 0) << Describe(again);

  // The next daemon runs what was requeued.
  std::ofstream(gate) << "open\n";
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_TRUE(ReachesState(daemon, retry, "succeeded")) << TaskOf(daemon, retry);
  EXPECT_EQ(TaskOf(daemon, retry)["attempts"], 2);
  EXPECT_EQ(CountLines(daemon.dir() + "/retried"), 2u);
  EXPECT_EQ(CountLines(daemon.dir() + "/once"), 1u);
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, DoctorRepair, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
