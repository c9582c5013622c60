// The internal client library (client/client.h) used directly by a program, against a real daemon:
// submit, wait, read, cancel, stats, ping — and the example program built on it.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/kernels.h"
#include "fmt/format.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

class ClientLibrary : public ::testing::TestWithParam<std::string> {};

TEST_P(ClientLibrary, SubmitWaitReadCancelStats) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 1\nmax_parallel: 1\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::unique_ptr<Client> client;
  ASSERT_TRUE(Client::Connect({daemon.queue(), daemon.config_path()}, &client).ok());

  DaemonInfo info;
  ASSERT_TRUE(client->Ping(30000, &info).ok());
  EXPECT_EQ(info.pid, daemon.pid());

  // A blocker keeps the single runner busy until the gate opens, so the tasks after it stay queued
  // and one can be cancelled however slowly this test runs.
  const std::string gate = daemon.dir() + "/gate";
  TaskSpec blocker;
  blocker.kind = TaskKind::kExec;
  blocker.exec.argv = {"/bin/sh", "-c", "until [ -e \"$1\" ]; do sleep 0.01; done", "sh", gate};
  TaskSpec cpu;
  cpu.kind = TaskKind::kCpu;
  cpu.cpu.count = 5000;
  cpu.cpu.seed = 42;
  std::vector<uint64_t> ids;
  ASSERT_TRUE(client->Submit({blocker, cpu, cpu}, {}, &ids).ok());
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_TRUE(client->Cancel(ids[2]).ok());
  std::ofstream(gate) << "open\n";

  std::vector<TaskInfo> done;
  ASSERT_TRUE(client->Wait(ids, 60000, &done).ok());
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].state, TaskState::kSucceeded);
  EXPECT_EQ(done[1].state, TaskState::kSucceeded);
  EXPECT_EQ(done[1].record.result_count, 5000u);
  EXPECT_EQ(done[1].record.result_checksum, RunCpuKernel(5000, 42).checksum);
  EXPECT_EQ(done[2].state, TaskState::kCancelled);

  TaskInfo read;
  ASSERT_TRUE(client->Get(ids[1], &read).ok());
  EXPECT_EQ(read.record.result_checksum, done[1].record.result_checksum);
  EXPECT_GE(client->List().size(), 3u);
  const QueueStats stats = client->Stats();
  EXPECT_TRUE(stats.daemon_running);
  EXPECT_EQ(stats.by_state[static_cast<int>(TaskState::kSucceeded)], 2u);
  EXPECT_EQ(stats.by_state[static_cast<int>(TaskState::kCancelled)], 1u);
  EXPECT_TRUE(client->Unfinished().empty());

  TaskSpec bad;
  bad.kind = TaskKind::kExec;  // no argv
  std::vector<uint64_t> none;
  EXPECT_EQ(client->Submit({bad}, {}, &none).code(), StatusCode::kInvalid);
  EXPECT_EQ(client->Wait({999999}, 1000, &done).code(), StatusCode::kInvalid);
}

TEST_P(ClientLibrary, ExampleProgramSubmitsAndWaits) {
  Daemon daemon("policy: " + GetParam() + "\nworkers: 2\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult result = RunCommand(
      {TASKQ_BIN_DIR "/examples/submit_and_wait", "--config", daemon.config_path(), "3"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find("succeeded checksum") != std::string::npos, true) << result.out;
  size_t lines = 0;
  for (char c : result.out) lines += c == '\n';
  EXPECT_EQ(lines, 3u);
  EXPECT_EQ(result.out.find(std::string("checksum ") +
                            fmt::format("{:016x}", RunCpuKernel(100000, 0).checksum)) !=
                std::string::npos,
            true)
      << result.out;
}

TEST(ClientLibraryNoDaemon, ConnectFailsWithUnavailable) {
  std::unique_ptr<Client> client;
  EXPECT_EQ(Client::Connect({UniqueQueueName(), ""}, &client).code(), StatusCode::kUnavailable);
  const CommandResult result =
      RunCommand({TASKQ_BIN_DIR "/examples/submit_and_wait", "--queue", UniqueQueueName(), "1"});
  EXPECT_EQ(result.exit_code, 3);
}

INSTANTIATE_TEST_SUITE_P(Policies, ClientLibrary, ::testing::Values("pool", "process"));

}  // namespace
}  // namespace taskq::testing
