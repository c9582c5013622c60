// SIGHUP on a real taskqd: the pool grows and shrinks live (surplus workers finish their task
// first), the policy switches live, an invalid file leaves the running configuration in force,
// and settings that need a restart are reported. Tasks submitted before, during and after every
// reload all succeed, each exactly once. Every wait is for a state, never for a time.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_util.h"

namespace taskq::testing {
namespace {

class Reload : public ::testing::Test {
 protected:
  nlohmann::json Json(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--json"};
    all.insert(all.end(), args.begin(), args.end());
    const CommandResult r = Taskq(all);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return nlohmann::json::parse(FirstLine(r.out), nullptr, false);
  }
  nlohmann::json Stats() { return Json({"stats"}); }

  // taskq with the daemon's config file, or with a saved copy while that file is broken.
  CommandResult Taskq(const std::vector<std::string>& args) {
    if (client_config_.empty()) return daemon_->Taskq(args);
    std::vector<std::string> argv = {TaskqPath(), "--config", client_config_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  void SaveClientConfig() {
    client_config_ = daemon_->dir() + "/client.yaml";
    std::ifstream in(daemon_->config_path());
    std::ofstream(client_config_) << in.rdbuf();
  }

  // An exec task that appends its token to runs.txt (after `gate` exists, when given).
  uint64_t Submit(const std::string& gate = "") {
    const std::string token = "task-" + std::to_string(next_token_++);
    const std::string runs = daemon_->dir() + "/runs.txt";
    const std::string script = gate.empty() ? "echo \"$1\" >> \"$2\""
                                            : "while [ ! -e \"$0\" ]; do sleep 0.02; done; "
                                              "echo \"$1\" >> \"$2\"";
    nlohmann::json r = Json(
        {"submit", "exec", "--", "/bin/sh", "-c", script, gate.empty() ? "-" : gate, token, runs});
    const uint64_t id = r.value("id", uint64_t{0});
    EXPECT_NE(id, 0u) << r.dump();
    tokens_[id] = token;
    return id;
  }

  // Every submitted task succeeded in its first attempt and ran exactly once.
  void ExpectAllRanOnce() {
    std::vector<std::string> args = {"--json", "wait", "--timeout", "120"};
    for (const auto& [id, token] : tokens_) args.push_back(std::to_string(id));
    const CommandResult waited = Taskq(args);
    EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err << daemon_->log();
    std::map<std::string, int> runs;
    std::ifstream in(daemon_->dir() + "/runs.txt");
    for (std::string line; std::getline(in, line);) ++runs[line];
    for (const auto& [id, token] : tokens_) {
      nlohmann::json task = Json({"status", std::to_string(id)});
      EXPECT_EQ(task.value("state", ""), "succeeded") << task.dump();
      EXPECT_EQ(task.value("attempts", 0), 1) << task.dump();
      EXPECT_EQ(runs[token], 1) << token << " (task " << id << ") ran " << runs[token] << " times";
    }
    EXPECT_EQ(runs.size(), tokens_.size());
  }

  void Reconfigure(const std::string& yaml) {
    daemon_->WriteConfig(yaml);
    ASSERT_TRUE(daemon_->Signal(SIGHUP));
  }

  bool WaitForReload(int n) { return daemon_->WaitForLog("configuration reloaded", n); }

  void StartDaemon(const std::string& yaml) {
    daemon_ = std::make_unique<Daemon>(yaml);
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  }

  void TearDown() override {
    if (daemon_ != nullptr && daemon_->running()) {
      EXPECT_EQ(daemon_->Stop(), 0) << daemon_->log();
    }
  }

  std::unique_ptr<Daemon> daemon_;
  std::map<uint64_t, std::string> tokens_;
  int next_token_ = 0;
  std::string client_config_;
};

TEST_F(Reload, PoolGrowsAndShrinksLive) {
  StartDaemon("policy: pool\nworkers: 1\n");
  for (int i = 0; i < 3; ++i) Submit();
  Reconfigure("policy: pool\nworkers: 3\n");
  for (int i = 0; i < 3; ++i) Submit();  // while the reload happens
  ASSERT_TRUE(WaitForReload(1)) << daemon_->log();
  ASSERT_TRUE(WaitUntil([&] { return Stats().value("workers", 0) == 3; })) << Stats().dump();
  EXPECT_EQ(Stats().value("workers_wanted", 0), 3);
  EXPECT_EQ(daemon_->CountInLog("pool grows from 1 to 3 workers"), 1) << daemon_->log();

  // Three tasks that hold all three workers until the gate file exists.
  const std::string gate = daemon_->dir() + "/gate";
  std::vector<uint64_t> gated;
  for (int i = 0; i < 3; ++i) gated.push_back(Submit(gate));
  // Each gated task runs (a count of three could include a slow quick one from above).
  ASSERT_TRUE(WaitUntil([&] {
    for (uint64_t id : gated) {
      if (Json({"status", std::to_string(id)}).value("state", "") != "running") return false;
    }
    return true;
  })) << Stats().dump();
  Reconfigure("policy: pool\nworkers: 1\n");
  ASSERT_TRUE(WaitForReload(2)) << daemon_->log();
  for (int i = 0; i < 3; ++i) Submit();  // queued behind the busy workers
  // The surplus workers are busy: they go on with their task and only then exit.
  EXPECT_EQ(daemon_->CountInLog("retires once its current task is done"), 2) << daemon_->log();
  nlohmann::json busy = Stats();
  EXPECT_EQ(busy.value("workers", 0), 3) << busy.dump();
  EXPECT_EQ(busy.value("workers_wanted", 0), 1) << busy.dump();
  EXPECT_EQ(busy["counts"].value("running", 0), 3) << busy.dump();
  EXPECT_EQ(daemon_->CountInLog(") retired: exit code 0"), 0) << daemon_->log();

  std::ofstream(gate) << "go\n";
  ASSERT_TRUE(daemon_->WaitForLog(") retired: exit code 0", 2)) << daemon_->log();
  ASSERT_TRUE(WaitUntil([&] { return Stats().value("workers", 0) == 1; })) << Stats().dump();
  ExpectAllRanOnce();
  EXPECT_EQ(Stats().value("workers", 0), 1);
}

TEST_F(Reload, PolicySwitchesLiveBothWays) {
  StartDaemon("policy: pool\nworkers: 2\n");
  for (int i = 0; i < 4; ++i) Submit();
  Reconfigure("policy: process\nmax_parallel: 2\n");
  for (int i = 0; i < 4; ++i) Submit();
  ASSERT_TRUE(WaitForReload(1)) << daemon_->log();
  EXPECT_NE(daemon_->log().find("replacing the pool runners (policy pool -> process)"),
            std::string::npos)
      << daemon_->log();
  // The old pool workers finish what they run and exit; the process policy takes over.
  ASSERT_TRUE(WaitUntil([&] {
    nlohmann::json s = Stats();
    return s.value("policy", "") == "process" && s.value("workers", -1) == 0;
  })) << Stats().dump();
  std::vector<uint64_t> after;
  for (int i = 0; i < 4; ++i) after.push_back(Submit());
  ASSERT_TRUE(daemon_->Taskq({"wait", "--quiet", "--all", "--timeout", "120"}).exit_code == 0)
      << daemon_->log();
  // The line is logged after the runner started, which may be after the task ended: waited for.
  for (uint64_t id : after) {
    EXPECT_TRUE(daemon_->WaitForLog("task " + std::to_string(id) + " (exec) started in process"))
        << "task " << id << " did not run under the process policy:\n"
        << daemon_->log();
  }

  Reconfigure("policy: pool\nworkers: 2\n");
  for (int i = 0; i < 4; ++i) Submit();
  ASSERT_TRUE(WaitForReload(2)) << daemon_->log();
  ASSERT_TRUE(WaitUntil([&] {
    nlohmann::json s = Stats();
    return s.value("policy", "") == "pool" && s.value("workers", -1) == 2;
  })) << Stats().dump();
  for (int i = 0; i < 4; ++i) Submit();
  ExpectAllRanOnce();
}

TEST_F(Reload, InvalidFileKeepsTheRunningConfiguration) {
  StartDaemon("policy: pool\nworkers: 2\n");
  SaveClientConfig();
  Reconfigure("policy: process\nworkers: 3\nbogus: 1\n");
  ASSERT_TRUE(daemon_->WaitForLog("reload failed")) << daemon_->log();
  const std::string log = daemon_->log();
  EXPECT_NE(log.find("reload failed, the running configuration stays in force: " +
                     daemon_->config_path() + ":6:1: bogus: unknown key"),
            std::string::npos)
      << log;
  EXPECT_EQ(daemon_->CountInLog("configuration reloaded"), 0) << log;
  nlohmann::json s = Stats();
  EXPECT_EQ(s.value("policy", ""), "pool");
  EXPECT_EQ(s.value("workers", 0), 2);
  Submit();
  ExpectAllRanOnce();
  // The next valid file is applied.
  Reconfigure("policy: pool\nworkers: 3\n");
  ASSERT_TRUE(WaitForReload(1)) << daemon_->log();
  ASSERT_TRUE(WaitUntil([&] { return Stats().value("workers", 0) == 3; })) << Stats().dump();
}

TEST_F(Reload, RestartOnlySettingsAreReported) {
  StartDaemon("workers: 1\ncapacity: 4096\n");
  const std::string original_queue = daemon_->queue();
  daemon_->WriteRawConfig("queue: renamed-" + original_queue +
                          "\nstate_dir: " + daemon_->state_dir() +
                          "\nlog_level: debug\nworkers: 2\ncapacity: 1024\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(WaitForReload(1)) << daemon_->log();
  const std::string log = daemon_->log();
  EXPECT_NE(log.find("reload: 'queue' changed but needs a restart"), std::string::npos) << log;
  EXPECT_NE(log.find("reload: 'capacity' changed but needs a restart"), std::string::npos) << log;
  // The live part applies; the queue and its capacity stay.
  daemon_->WriteConfig("workers: 2\ncapacity: 4096\n");
  ASSERT_TRUE(WaitUntil([&] { return Stats().value("workers", 0) == 2; })) << Stats().dump();
  nlohmann::json s = Stats();
  EXPECT_EQ(s.value("queue", ""), original_queue);
  EXPECT_EQ(s.value("capacity", 0), 4096);
  Submit();
  ExpectAllRanOnce();
}

// Issue 17: a SIGHUP while the state directory's filesystem was full logged nothing, left
// effective.yaml empty, and clients then accepted what the daemon refused. A reload that cannot
// write its files now fails as a whole, says so, and keeps the old configuration in force; the
// next SIGHUP with room applies the file. Needs root (a 512 KiB tmpfs as the full disk).
TEST(ReloadOnAFullDisk, FailsAsAWholeAndKeepsTheRunningConfiguration) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs (CI runs as root)";
  Daemon daemon;
  const std::string small = daemon.dir() + "/small";
  ASSERT_EQ(::mkdir(small.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=512k,mode=0755"), 0)
      << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  const std::string state_dir = small + "/state";
  const std::string config =
      "queue: " + daemon.queue() + "\nstate_dir: " + state_dir + "\nuser: root\npolicy: pool\n";
  daemon.WriteRawConfig(config + "workers: 1\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();

  // Fill the filesystem to the last block.
  const std::string filler = small + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(4096, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  daemon.WriteRawConfig(config + "workers: 2\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("reload failed, the running configuration stays in force"))
      << daemon.log();
  std::ifstream effective(state_dir + "/effective.yaml");
  std::stringstream text;
  text << effective.rdbuf();
  EXPECT_NE(text.str().find("workers: 1"), std::string::npos) << text.str();
  const CommandResult status = daemon.Taskq({"--json", "stats"});
  ASSERT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_EQ(nlohmann::json::parse(FirstLine(status.out))["workers_wanted"], 1) << status.out;

  // With room again, the same file applies.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("configuration reloaded")) << daemon.log();
  const CommandResult after = daemon.Taskq({"--json", "stats"});
  EXPECT_EQ(nlohmann::json::parse(FirstLine(after.out))["workers_wanted"], 2) << after.out;
  EXPECT_EQ(daemon.Stop(), 0);
}

}  // namespace
}  // namespace taskq::testing
