// The shortest end-to-end path: a real taskqd per policy, one task of each kind, clean shutdown.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace taskq::testing
