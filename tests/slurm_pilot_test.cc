// The `slurm` policy in pilot mode (issue 19) against a private three-node Slurm
// (scripts/slurm-up.sh --nodes 3, one cluster per test process, stopped by pid at its end).
// Nothing here depends on speed: every wait is for a state, never for a duration.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/pilot_protocol.h"
#include "config/load.h"
#include "daemon/pilot_placement.h"
#include "fmt/format.h"
#include "tests/slurm_cluster.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

SlurmCluster* cluster = nullptr;
std::string skip_reason;
bool cluster_unavailable = false;  // no root or no Slurm here: skip; any other failure fails

// Extra "  key: value" lines a test appends go into the slurm map.
const std::string kPilotYaml =
    "policy: slurm\nuser: root\nsecurity:\n  env_allow: [PATH, HOME, LANG]\n"
    "slurm:\n  mode: pilot\n  poll_interval: 100ms\n  max_pilots: 3\n  backlog: 3\n"
    "  pilot_slots: 2\n  pilot_time: 10m\n";

// The pids of this daemon's pilots (taskq-worker processes whose environment names its address).
std::vector<pid_t> PilotPids(const std::string& address) {
  std::vector<pid_t> pids;
  const std::string worker = std::string(TASKQ_BIN_DIR) + "/daemon/taskq-worker";
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path() / "exe", ec).string() != worker) continue;
    const std::string environ_text = ReadFile((entry.path() / "environ").string());
    if (environ_text.find("TASKQ_PILOT_ADDRESS=" + address) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

class SlurmPilot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster = new SlurmCluster(3, 8);
    if (!cluster->Start(&skip_reason)) {
      cluster_unavailable = cluster->Unavailable();
      delete cluster;
      cluster = nullptr;
    }
  }
  static void TearDownTestSuite() {
    if (cluster != nullptr) cluster->Stop();
    delete cluster;
    cluster = nullptr;
  }
  void StartDaemon(const std::string& extra = "") {
    daemon_ = std::make_unique<Daemon>(kPilotYaml + extra);
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  }
  void SetUp() override {
    if (cluster == nullptr && cluster_unavailable) {
      GTEST_SKIP() << "Slurm tests skipped: " << skip_reason;
    }
    if (cluster == nullptr) FAIL() << skip_reason;
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(), 0) << daemon_->log();
    }
  }

  nlohmann::json Status(uint64_t id) {
    const CommandResult r = daemon_->Taskq({"status", "--json", std::to_string(id)});
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  uint64_t Submit(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"submit"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = daemon_->Taskq(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::stoull(r.out);
  }
  nlohmann::json Wait(uint64_t id) {
    daemon_->Taskq({"wait", std::to_string(id)});
    return Status(id);
  }
  nlohmann::json Pilots() {
    return nlohmann::json::parse(ReadFile(daemon_->state_dir() + "/slurm/pilots-group0.json"),
                                 nullptr, false);
  }
  // A task that blocks until `release` exists; on a second run (after its pilot was lost) it
  // ends at once.
  std::vector<std::string> BlockingTask(const std::string& release) {
    const std::string marks = daemon_->dir();
    return {"--retries",
            "1",
            "--",
            "sh",
            "-c",
            fmt::format("m={}/ran.$TASKQ_TASK_ID; if [ -e $m ]; then echo second; exit 0; fi; "
                        "touch $m; echo first; while [ ! -e {} ]; do sleep 0.1; done",
                        marks, release)};
  }

  std::unique_ptr<Daemon> daemon_;
};

TEST_F(SlurmPilot, PilotsSpreadTasksOverThreeNodes) {
  StartDaemon("  idle_timeout: 1m\n");
  const std::string release = daemon_->dir() + "/release";
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> args = {"exec"};
    for (const std::string& a : BlockingTask(release)) args.push_back(a);
    ids.push_back(Submit(args));
  }
  // Three pilots of two slots each: all six run at once, one pilot per node (LLN).
  std::set<std::string> nodes;
  ASSERT_TRUE(WaitUntil([&] {
    nodes.clear();
    for (uint64_t id : ids) {
      const nlohmann::json j = Status(id);
      if (j["state"] != "running" || !j["slurm_node"].is_string()) return false;
      nodes.insert(j["slurm_node"].get<std::string>());
    }
    return true;
  })) << Pilots().dump()
      << daemon_->log();
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"})) << Pilots().dump();
  const std::string text = daemon_->Taskq({"status", std::to_string(ids[0])}).out;
  EXPECT_NE(text.find("slurm:       job "), std::string::npos) << text;
  // docs/SCALE-OUT.md: `taskq top` lists the pilots.
  const std::string top = daemon_->Taskq({"top", "-n", "1"}).out;
  EXPECT_NE(top.find("PILOT"), std::string::npos) << top;
  EXPECT_NE(top.find("connected"), std::string::npos) << top;
  EXPECT_NE(top.find(" n3 "), std::string::npos) << top;
  std::ofstream(release).put('\n');
  for (uint64_t id : ids) {
    const nlohmann::json j = Wait(id);
    EXPECT_EQ(j["state"], "succeeded") << j.dump();
    EXPECT_TRUE(j["slurm_job_id"].is_number()) << j.dump();
    EXPECT_EQ(daemon_->Taskq({"logs", std::to_string(id)}).out, "first\n");
  }
}

TEST_F(SlurmPilot, KilledNodeRequeuesItsTasksOnTheOthers) {
  StartDaemon("  idle_timeout: 1m\n");
  const std::string release = daemon_->dir() + "/release";
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> args = {"exec"};
    for (const std::string& a : BlockingTask(release)) args.push_back(a);
    ids.push_back(Submit(args));
  }
  std::map<uint64_t, std::string> node_of;
  ASSERT_TRUE(WaitUntil([&] {
    for (uint64_t id : ids) {
      const nlohmann::json j = Status(id);
      if (j["state"] != "running" || !j["slurm_node"].is_string()) return false;
      node_of[id] = j["slurm_node"].get<std::string>();
    }
    return daemon_->Taskq({"logs", std::to_string(ids.back())}).out == "first\n";
  })) << Pilots().dump();
  const std::string victim = node_of[ids[0]];
  ASSERT_TRUE(cluster->KillNode(victim));
  // The victim's tasks come back (retries 1) and run again elsewhere: "second" ends at once.
  for (uint64_t id : ids) {
    if (node_of[id] != victim) continue;
    const nlohmann::json j = Wait(id);
    EXPECT_EQ(j["state"], "succeeded") << j.dump() << daemon_->log();
    EXPECT_EQ(j["attempts"], 2) << j.dump();
    EXPECT_NE(j["slurm_node"], victim) << j.dump();
    EXPECT_EQ(daemon_->Taskq({"logs", std::to_string(id)}).out, "second\n");
  }
  EXPECT_NE(daemon_->log().find("on " + victim), std::string::npos) << daemon_->log();
  std::ofstream(release).put('\n');
  for (uint64_t id : ids) EXPECT_EQ(Wait(id)["state"], "succeeded");
}

TEST_F(SlurmPilot, SilentPilotLosesItsLeases) {
  // 3 s: long enough that a stalled (sanitized) pilot is not dropped before the test stops it.
  StartDaemon("  heartbeat_timeout: 3s\n  idle_timeout: 1m\n");
  const uint64_t id =
      Submit({"exec", "--retries", "0", "--", "sh", "-c", "echo started; sleep 300"});
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(id)}).out == "started\n";
  })) << daemon_->log();
  const std::string address = Pilots()["listen"].get<std::string>();
  const std::vector<pid_t> pilots = PilotPids(address);
  ASSERT_EQ(pilots.size(), 1u) << address;
  ASSERT_EQ(::kill(pilots[0], SIGSTOP), 0);  // a frozen node: no heartbeat, no close
  const nlohmann::json j = Wait(id);
  ::kill(pilots[0], SIGCONT);
  EXPECT_EQ(j["state"], "lost") << j.dump();
  const std::string reason = j["reason"].get<std::string>();
  EXPECT_NE(reason.find("stopped heartbeating"), std::string::npos) << reason;
  EXPECT_NE(reason.find(fmt::format("slurm job {} on n", j["slurm_job_id"].get<int>())),
            std::string::npos)
      << reason;
}

TEST_F(SlurmPilot, TimeoutCancelAndIdleExit) {
  StartDaemon("  idle_timeout: 1s\n");
  const uint64_t slow = Submit({"exec", "--timeout", "1", "--", "sleep", "300"});
  const uint64_t victim = Submit({"exec", "--", "sh", "-c", "echo started; exec sleep 300"});
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(victim)}).out == "started\n";
  }));
  EXPECT_EQ(daemon_->Taskq({"cancel", std::to_string(victim)}).exit_code, 0);
  const nlohmann::json c = Wait(victim);
  EXPECT_EQ(c["state"], "cancelled") << c.dump();
  const nlohmann::json t = Wait(slow);
  EXPECT_EQ(t["state"], "timed_out") << t.dump();
  EXPECT_NE(t["reason"].get<std::string>().find("timed out after 1000 ms"), std::string::npos);
  // Nothing left to do: the pilots ask to stop and are told to, their jobs complete.
  EXPECT_TRUE(daemon_->WaitForLog("told to exit")) << daemon_->log();
  ASSERT_TRUE(WaitUntil([&] {
    const nlohmann::json p = Pilots();
    return p.is_object() && p["pilots"].empty();
  })) << Pilots().dump();
  const int job = c["slurm_job_id"].get<int>();
  // slurmctld learns of the job's end a moment after the pilot left.
  EXPECT_TRUE(WaitUntil([&] { return cluster->JobState(job) == "COMPLETED"; }))
      << cluster->JobState(job);
}

TEST_F(SlurmPilot, TaskLongerThanAnyPilotFailsAtOnce) {
  StartDaemon("  idle_timeout: 1m\n");
  // pilot_time 10m: a 20-minute timeout fits no pilot; a 1-minute one does.
  const nlohmann::json j = Wait(Submit({"exec", "--timeout", "1200", "--", "true"}));
  EXPECT_EQ(j["state"], "failed") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("longer than slurm.pilot_time"), std::string::npos)
      << j.dump();
  EXPECT_EQ(Wait(Submit({"exec", "--timeout", "60", "--", "true"}))["state"], "succeeded");
}

TEST_F(SlurmPilot, CpuTaskGivesItsResult) {
  StartDaemon("  idle_timeout: 1m\n");
  const nlohmann::json j = Wait(Submit({"cpu", "--count", "5000", "--seed", "7"}));
  EXPECT_EQ(j["state"], "succeeded") << j.dump();
  EXPECT_EQ(j["result"]["count"], 5000);
}

// A pilot holds a task's output in memory (memfd) and streams it in chunks, punching out what it
// sent: 2.8 MB of stdout (eleven 256 KiB chunks, several pumps) arrives whole and in order, stderr
// apart, and the status names the pilot's node.
TEST_F(SlurmPilot, OutputOfManyChunksArrivesWholeWithTheNode) {
  StartDaemon("  idle_timeout: 1m\n");
  const uint64_t id =
      Submit({"exec", "--", "sh", "-c", "seq 1 400000; echo to-stderr >&2; seq 400001 420000"});
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "succeeded") << j.dump();
  EXPECT_EQ(j["slurm_state"], "LEASED") << j.dump();
  EXPECT_TRUE(j["slurm_node"].is_string()) << j.dump();
  const std::string out = daemon_->Taskq({"logs", std::to_string(id)}).out;
  std::string expected;
  for (int n = 1; n <= 420000; ++n) expected += std::to_string(n) + "\n";
  EXPECT_EQ(out.size(), expected.size());
  EXPECT_TRUE(out == expected) << "stdout differs from seq 1 420000";
  EXPECT_EQ(daemon_->Taskq({"logs", "--stderr", std::to_string(id)}).out, "to-stderr\n");
}

TEST_F(SlurmPilot, FailedPilotStartsPauseTheGroup) {
  StartDaemon(
      "  idle_timeout: 1m\n  max_failed_starts: 2\n  sbatch_args: "
      "[\"--partition=nosuchpartition\"]\n");
  const uint64_t id = Submit({"exec", "--", "true"});
  EXPECT_TRUE(daemon_->WaitForLog("group 'default' paused: 2 slurm pilots in a row failed"))
      << daemon_->log();
  EXPECT_NE(daemon_->log().find("invalid partition"), std::string::npos) << daemon_->log();
  EXPECT_NE(daemon_->log().find("taskq group resume default"), std::string::npos);
  EXPECT_EQ(Status(id)["state"], "queued");
  EXPECT_FALSE(Pilots()["paused"].is_null()) << Pilots().dump();
  // docs/SCALE-OUT.md: `taskq group resume default` clears the breaker (and here, with the same
  // partition, it trips again).
  EXPECT_EQ(daemon_->Taskq({"group", "resume", "default"}).exit_code, 0);
  EXPECT_TRUE(daemon_->WaitForLog("group 'default' resumed: submitting slurm pilots again"))
      << daemon_->log();
  EXPECT_TRUE(daemon_->WaitForLog("group 'default' paused", 2)) << daemon_->log();
}

// Authentication needs no cluster: the listener runs as soon as the group does.
TEST(SlurmPilotAuth, WrongSecretIsRefusedAndLogged) {
  Daemon daemon(kPilotYaml);
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string status_path = daemon.state_dir() + "/slurm/pilots-group0.json";
  ASSERT_TRUE(WaitUntil([&] { return Exists(status_path); }));
  const std::string address =
      nlohmann::json::parse(ReadFile(status_path))["listen"].get<std::string>();
  const std::string worker = std::string(TASKQ_BIN_DIR) + "/daemon/taskq-worker";
  for (const char* number : {"1", "77"}) {
    const CommandResult r = RunCommand({"/usr/bin/env", "TASKQ_PILOT_ADDRESS=" + address,
                                        std::string("TASKQ_PILOT_ID=") + number,
                                        "TASKQ_PILOT_SECRET=" + std::string(64, 'a'), worker});
    EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
    EXPECT_NE(r.err.find("lost the connection to taskqd"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(daemon.WaitForLog("refused: wrong secret, or pilot 77 is unknown")) << daemon.log();
  EXPECT_EQ(daemon.CountInLog("pilot connection from 127.0.0.1:"), 2) << daemon.log();
  EXPECT_EQ(daemon.Stop(), 0);
}

// Every configuration docs/SCALE-OUT.md shows loads as it is written.
TEST(SlurmPilotDocs, EveryYamlBlockOfScaleOutLoads) {
  const std::string doc = ReadFile(TASKQ_SOURCE_DIR "/docs/SCALE-OUT.md");
  int blocks = 0;
  for (size_t at = doc.find("```yaml\n"); at != std::string::npos;
       at = doc.find("```yaml\n", at + 1)) {
    const size_t begin = at + 8;
    const std::string yaml = doc.substr(begin, doc.find("```", begin) - begin);
    Options options;
    const Status loaded = LoadOptionsFromString(yaml, "SCALE-OUT.md", &options);
    EXPECT_TRUE(loaded.ok()) << loaded.message() << "\n" << yaml;
    ++blocks;
  }
  EXPECT_GE(blocks, 2);
}

TEST(SlurmPilotConfig, LoadsRoundTripsAndRefusesBadValues) {
  Options options;
  ASSERT_TRUE(
      LoadOptionsFromString("policy: slurm\nslurm:\n  mode: pilot\n  max_pilots: 7\n  backlog: 2\n"
                            "  pilot_slots: 16\n  pilot_time: 2h\n  idle_timeout: 30s\n"
                            "  heartbeat_timeout: 20s\n  max_failed_starts: 5\n"
                            "  sbatch_args: [\"--account=a\"]\n  pilot_listen: 0.0.0.0:7878\n",
                            "t.yaml", &options)
          .ok());
  EXPECT_EQ(options.slurm.mode, SlurmMode::kPilot);
  EXPECT_EQ(options.slurm.max_pilots, 7u);
  EXPECT_EQ(options.slurm.backlog, 2u);
  EXPECT_EQ(options.slurm.pilot_slots, 16u);
  EXPECT_EQ(options.slurm.pilot_time_ms, 7200000u);
  EXPECT_EQ(options.slurm.idle_timeout_ms, 30000u);
  EXPECT_EQ(options.slurm.heartbeat_timeout_ms, 20000u);
  EXPECT_EQ(options.slurm.max_failed_starts, 5u);
  EXPECT_EQ(options.slurm.sbatch_args, std::vector<std::string>{"--account=a"});
  EXPECT_EQ(options.slurm.pilot_listen, "0.0.0.0:7878");
  Options again;
  ASSERT_TRUE(LoadOptionsFromString(OptionsToYaml(options), "again", &again).ok());
  EXPECT_TRUE(again.slurm == options.slurm);
  for (const char* bad : {"slurm:\n  mode: pilots\n", "slurm:\n  pilot_time: 30s\n",
                          "slurm:\n  pilot_listen: somewhere\n",
                          "slurm:\n  heartbeat_timeout: 100ms\n", "slurm:\n  max_pilots: 0\n"}) {
    EXPECT_FALSE(LoadOptionsFromString(bad, "t.yaml", &options).ok()) << bad;
  }
}

TEST(SlurmPilotProtocol, FramesRoundTripAndSecretsCompare) {
  const std::string frame = EncodeJsonFrame({{"type", "hello"}, {"pilot", 3}});
  ASSERT_GE(frame.size(), 5u);
  EXPECT_EQ(FrameLength(reinterpret_cast<const unsigned char*>(frame.data())), frame.size() - 4);
  Frame decoded;
  ASSERT_TRUE(DecodeFrameBody(std::string_view(frame).substr(4), &decoded));
  EXPECT_EQ(decoded.json["pilot"], 3);
  const std::string out = EncodeOutputFrame('O', 42, std::string("a\0b", 3));
  ASSERT_TRUE(DecodeFrameBody(std::string_view(out).substr(4), &decoded));
  EXPECT_EQ(decoded.kind, 'O');
  EXPECT_EQ(decoded.task_id, 42u);
  EXPECT_EQ(decoded.data, std::string("a\0b", 3));
  EXPECT_FALSE(DecodeFrameBody("J{not json", &decoded));
  EXPECT_FALSE(DecodeFrameBody("J{\"no\":\"type\"}", &decoded));
  const std::string a = NewPilotSecret(), b = NewPilotSecret();
  EXPECT_EQ(a.size(), 2 * kPilotSecretBytes);
  EXPECT_NE(a, b);
  EXPECT_TRUE(SecretsEqual(a, a));
  EXPECT_FALSE(SecretsEqual(a, b));
  EXPECT_FALSE(SecretsEqual(a, a.substr(1)));
  EXPECT_FALSE(SecretsEqual("", ""));
}

TEST(SlurmPilotPlacement, LeasesOnlyWhereTheWalltimeLeftCoversTheTimeout) {
  const uint64_t now = 1000000000;
  std::vector<PilotView> pilots(2);
  pilots[0] = {true, 4, 0, now + 30 * 1000000ull};      // 30 s left
  pilots[1] = {true, 4, 3, now + 7200 * 1000000ull};    // 2 h left, busier
  EXPECT_EQ(ChoosePilot(pilots, 0, 2000, now), 0);      // no timeout: the least busy
  EXPECT_EQ(ChoosePilot(pilots, 20000, 2000, now), 0);  // 22 s fit in 30 s
  EXPECT_EQ(ChoosePilot(pilots, 60000, 2000, now), 1);  // 62 s only fit the other
  pilots[1].leased = 4;
  EXPECT_EQ(ChoosePilot(pilots, 60000, 2000, now), -1);  // no free slot where it fits
  pilots[0].connected = false;
  EXPECT_EQ(ChoosePilot(pilots, 0, 2000, now), -1);
  EXPECT_TRUE(LongerThanAnyPilot(3600000, 2000, 3600000));
  EXPECT_FALSE(LongerThanAnyPilot(0, 2000, 60000));
}

}  // namespace
}  // namespace taskq::testing

namespace taskq::testing {
namespace {

// docs/SCALE-OUT.md's `scripts/slurm-bench.sh build-release 200 2000 3`, smaller: the script runs
// end to end on its own cluster and reports every figure (their values are not checked: speed
// varies).
TEST(SlurmBench, ScriptReportsEveryFigure) {
  if (geteuid() != 0 || !Exists("/usr/sbin/slurmd")) GTEST_SKIP() << "needs root and Slurm";
  const CommandResult r =
      RunCommand({"/bin/bash", kScripts + "/slurm-bench.sh", TASKQ_BIN_DIR, "10", "50", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* line :
       {"mode: job, 10 exec tasks", "pilots submitted, started, connected",
        "one exec task with pilots idle", "mode: pilot, 50 exec tasks", "pilot / job throughput",
        "pilot / spawn floor:", "cpu --count 3000000, median run_us of 5: local pool worker"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
}

}  // namespace
}  // namespace taskq::testing
