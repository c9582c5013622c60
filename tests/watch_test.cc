// The live views against a real daemon: `logs --follow` streams a running exec task to its end,
// `top -n 1` shows workers and running tasks read from the segment, `wait` without a terminal
// prints plain lines (no progress bar escape codes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

class Watch : public ::testing::TestWithParam<std::string> {};

TEST_P(Watch, LogsFollowStreamsUntilTheTaskEnds) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 1\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult submitted =
      daemon.Taskq({"submit", "exec", "--", "/bin/sh", "-c",
                    "for i in 1 2 3; do echo line $i; sleep 0.2; done"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string id = FirstLine(submitted.out);
  // Started while the task still runs (it sleeps 0.6 s); returns only after its last line.
  const CommandResult followed = daemon.Taskq({"logs", id, "--follow"});
  EXPECT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_EQ(followed.out, "line 1\nline 2\nline 3\n");
  const CommandResult status = daemon.Taskq({"status", id, "--json"});
  EXPECT_NE(status.out.find("\"state\":\"succeeded\""), std::string::npos) << status.out;
}

TEST_P(Watch, TopShowsRunningTasksAndCounts) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 1\nmax_parallel: 1\nshutdown_grace: 200ms\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult submitted = daemon.Taskq({"submit", "exec", "--", "/bin/sleep", "300"});
  ASSERT_EQ(submitted.exit_code, 0);
  const std::string id = FirstLine(submitted.out);
  // Wait until it runs (never a fixed sleep: the state is polled).
  ASSERT_TRUE(WaitUntil([&] {
    return daemon.Taskq({"status", id, "--json"}).out.find("\"running\"") != std::string::npos;
  }));
  const CommandResult top = daemon.Taskq({"top", "-n", "1"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("policy " + GetParam()), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("running 1"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("/bin/sleep 300"), std::string::npos) << top.out;
  EXPECT_EQ(top.out.find("\x1b["), std::string::npos) << "no escape codes when not a terminal";
  EXPECT_EQ(daemon.Taskq({"top", "--interval", "0"}).exit_code, 2);

  // --json: one object per refresh, one per line, with the running task's own pid.
  const CommandResult json_top = daemon.Taskq({"--json", "top", "-n", "2", "--interval", "0.05"});
  ASSERT_EQ(json_top.exit_code, 0) << json_top.err;
  const std::string second = json_top.out.substr(json_top.out.find('\n') + 1);
  for (const std::string& line : {FirstLine(json_top.out), FirstLine(second)}) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << json_top.out;
    EXPECT_EQ(j["policy"], GetParam()) << line;
    ASSERT_EQ(j["running"].size(), 1u) << line;
    EXPECT_EQ(j["running"][0]["id"], std::stoull(id)) << line;
    EXPECT_EQ(j["running"][0]["spec"], "exec -- /bin/sleep 300") << line;
    EXPECT_TRUE(j.contains("worker_table")) << line;
  }
}

TEST_P(Watch, WaitWithoutTerminalPrintsPlainLines) {
  Daemon daemon("policy: " + GetParam() + "\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult submitted =
      daemon.Taskq({"submit", "--batch", "-"}, "cpu --count 10\ncpu --count 20\n");
  ASSERT_EQ(submitted.exit_code, 0);
  const CommandResult waited = daemon.Taskq({"wait", "--all"});
  EXPECT_EQ(waited.exit_code, 0);
  EXPECT_EQ(waited.err.find('\r'), std::string::npos) << waited.err;
}

INSTANTIATE_TEST_SUITE_P(Policies, Watch, ::testing::Values("pool", "process"));

}  // namespace
}  // namespace taskq::testing
