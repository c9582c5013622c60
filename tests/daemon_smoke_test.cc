// The shortest end-to-end path: a real taskqd per policy, one task of each kind, clean shutdown.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

class DaemonSmoke : public ::testing::TestWithParam<std::string> {};

TEST_P(DaemonSmoke, RunsOneTaskOfEachKind) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 2\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  for (const std::vector<std::string>& kind : {std::vector<std::string>{"cpu", "--count", "1000"},
                                               {"io", "--bytes", "100"},
                                               {"exec", "--", "/bin/true"}}) {
    std::vector<std::string> args = {"submit", "--wait"};
    args.insert(args.end(), kind.begin(), kind.end());
    const CommandResult result = daemon.Taskq(args);
    EXPECT_EQ(result.exit_code, 0) << kind[0] << ": " << result.out << result.err;
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
}

INSTANTIATE_TEST_SUITE_P(Policies, DaemonSmoke, ::testing::Values("pool", "process"));

// A queue left by an older taskq (an earlier segment layout) is named at the start that creates
// the new segment, with what to do about it; the new queue works beside it.
TEST(OlderSegment, IsNamedWithTheFixAndLeftAlone) {
  Daemon daemon;
  const std::string old_path = "/dev/shm/taskq." + daemon.queue() + ".v5";
  struct RemoveAtEnd {
    std::string path;
    ~RemoveAtEnd() { std::filesystem::remove(path); }
  } cleanup{old_path};
  {
    std::ofstream old(old_path);
    old << "a layout-5 queue";
  }
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_TRUE(daemon.WaitForLog(old_path + " is a queue of an older taskq (segment layout 5"))
      << daemon.log();
  EXPECT_TRUE(daemon.WaitForLog("remove it (rm " + old_path + ")")) << daemon.log();
  const CommandResult r = daemon.Taskq({"submit", "--wait", "cpu", "--count", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.log();
  EXPECT_TRUE(std::filesystem::exists(old_path));  // not ours to delete
}

}  // namespace
}  // namespace taskq::testing
