// libtaskq's public API (include/taskq/taskq.h, lib/taskq.cc) against a real daemon: what the
// conversion layer promises — every spec field reaches the task, every record field comes back
// under its public name, and each failure keeps the code the internal client gave it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/kernels.h"
#include "taskq/taskq.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

std::unique_ptr<api::Client> Connect(const Daemon& daemon) {
  std::unique_ptr<api::Client> client;
  const api::Status status =
      api::Client::Connect({.queue = daemon.queue(), .config_path = daemon.config_path()}, &client);
  EXPECT_TRUE(status.ok()) << status.message();
  return client;
}

TEST(PublicApi, SpecFieldsReachTheTaskAndComeBack) {
  Daemon daemon("workers: 2\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::unique_ptr<api::Client> client = Connect(daemon);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->queue(), daemon.queue());
  EXPECT_EQ(client->state_dir(), daemon.state_dir());
  int32_t pid = 0;
  ASSERT_TRUE(client->Ping(30000, &pid).ok());
  EXPECT_EQ(pid, daemon.pid());

  api::TaskSpec cpu = api::TaskSpec::Cpu(5000, 42);
  cpu.priority = 7;
  cpu.retries = 3;
  cpu.timeout_ms = 60000;
  api::TaskSpec io = api::TaskSpec::Io(1000);
  io.io.block = 100;
  io.io.fsync = true;
  api::TaskSpec exec = api::TaskSpec::Exec({"/bin/sh", "-c", "exit 3"});
  exec.exec.cwd = daemon.dir();
  exec.exec.env = {"TZ=UTC0"};
  std::vector<uint64_t> ids;
  ASSERT_TRUE(client->Submit({cpu, io, exec}, {}, &ids).ok());
  ASSERT_EQ(ids.size(), 3u);
  api::TaskSpec after = api::TaskSpec::Cpu(10);
  after.after = {ids[0]};
  std::vector<uint64_t> more;
  ASSERT_TRUE(client->Submit({after}, {.block = true, .block_timeout_ms = 1000}, &more).ok());
  ids.push_back(more[0]);

  std::vector<api::TaskInfo> done;
  const api::Status waited = client->Wait(ids, 60000, &done);
  ASSERT_TRUE(waited.ok()) << waited.message();
  ASSERT_EQ(done.size(), 4u);
  EXPECT_TRUE(done[0].succeeded());
  EXPECT_EQ(done[0].kind, api::Kind::kCpu);
  EXPECT_EQ(done[0].checksum, RunCpuKernel(5000, 42).checksum);
  EXPECT_EQ(done[0].result_count, 5000u);
  EXPECT_EQ(done[0].priority, 7u);
  EXPECT_EQ(done[0].retries, 3u);
  EXPECT_EQ(done[0].timeout_ms, 60000u);
  EXPECT_EQ(done[0].exit_code, 0);
  EXPECT_GT(done[0].run_us(), 0u);
  ASSERT_TRUE(done[0].spec_valid);
  EXPECT_EQ(done[0].spec.cpu.seed, 42u);
  EXPECT_EQ(done[0].spec.group, "default");
  EXPECT_EQ(done[0].group, "default");

  EXPECT_TRUE(done[1].succeeded());
  EXPECT_EQ(done[1].result_count, 1000u);
  EXPECT_EQ(done[1].io_path, daemon.state_dir() + "/io/" + std::to_string(ids[1]) + ".dat");
  EXPECT_EQ(done[1].spec.io.block, 100u);
  EXPECT_TRUE(done[1].spec.io.fsync);

  EXPECT_EQ(done[2].state, api::State::kFailed);
  EXPECT_EQ(done[2].exit_code, 3);
  EXPECT_EQ(done[2].stdout_path, daemon.state_dir() + "/logs/" + std::to_string(ids[2]) + ".out");
  EXPECT_EQ(done[2].spec.exec.cwd, daemon.dir());
  EXPECT_EQ(done[2].spec.exec.env, std::vector<std::string>{"TZ=UTC0"});
  EXPECT_STREQ(api::StateName(done[2].state), "failed");

  EXPECT_TRUE(done[3].succeeded());
  EXPECT_EQ(done[3].after, std::vector<uint64_t>{ids[0]});
  EXPECT_GE(done[3].started_at_us, done[0].finished_at_us);

  api::TaskInfo read;
  ASSERT_TRUE(client->Get(ids[0], &read).ok());
  EXPECT_EQ(read.checksum, done[0].checksum);
  std::vector<api::TaskInfo> listed;
  ASSERT_TRUE(client->List(&listed).ok());
  EXPECT_EQ(listed.size(), 4u);
}

TEST(PublicApi, FailuresKeepTheirCodes) {
  Daemon daemon("workers: 1\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::unique_ptr<api::Client> client = Connect(daemon);
  ASSERT_TRUE(client);

  std::vector<uint64_t> ids;
  api::TaskSpec bad = api::TaskSpec::Cpu(10);
  bad.priority = 12;
  const api::Status refused = client->Submit({api::TaskSpec::Cpu(10), bad}, {}, &ids);
  EXPECT_EQ(refused.code(), api::Code::kInvalid);
  EXPECT_NE(refused.message().find("task 2 of 2"), std::string::npos) << refused.message();
  EXPECT_TRUE(ids.empty());
  std::vector<api::TaskInfo> listed;
  ASSERT_TRUE(client->List(&listed).ok());
  EXPECT_TRUE(listed.empty()) << "a refused batch submits nothing";

  EXPECT_EQ(client->Submit({api::TaskSpec::Exec({})}, {}, &ids).code(), api::Code::kInvalid);
  api::TaskSpec nowhere = api::TaskSpec::Cpu(10);
  nowhere.group = "no-such-group";
  EXPECT_EQ(client->Submit({nowhere}, {}, &ids).code(), api::Code::kInvalid);

  api::TaskSpec held = api::TaskSpec::Cpu(10);
  held.not_before_us = uint64_t{4102444800} * 1000000;  // 2100-01-01
  ASSERT_TRUE(client->Submit({held}, {}, &ids).ok());
  std::vector<api::TaskInfo> tasks;
  EXPECT_EQ(client->Wait(ids, 50, &tasks).code(), api::Code::kTimedOut);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].state, api::State::kQueued);
  EXPECT_EQ(tasks[0].exit_code, -1);
  EXPECT_TRUE(client->Cancel(ids[0]).ok());
  EXPECT_EQ(client->Cancel(ids[0]).code(), api::Code::kFailed);
  api::TaskInfo info;
  EXPECT_EQ(client->Get(999999, &info).code(), api::Code::kInvalid);

  std::unique_ptr<api::Client> none;
  EXPECT_EQ(api::Client::Connect({.queue = UniqueQueueName(), .config_path = ""}, &none).code(),
            api::Code::kUnavailable);
  EXPECT_EQ(api::Client::Connect({.queue = "bad/name", .config_path = ""}, &none).code(),
            api::Code::kInvalid);
  EXPECT_FALSE(none);
}

}  // namespace
}  // namespace taskq::testing
