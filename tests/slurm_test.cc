// The `slurm` policy against a real, private single-node Slurm (scripts/slurm-up.sh), started
// once for the suite and stopped by pid at its end. Skipped, with the reason, only when Slurm is
// not installed (`make deps` installs it) or cannot start here (not root, no munge).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/kernels.h"
#include "config/load.h"
#include "daemon/slurm_commands.h"
#include "fmt/format.h"
#include "tests/slurm_cluster.h"
#include "tests/test_util.h"

extern char** environ;

namespace taskq::testing {
namespace {

SlurmCluster* cluster = nullptr;
std::string skip_reason;
bool cluster_unavailable = false;  // no root or no Slurm here: skip; any other failure fails

class Slurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster = new SlurmCluster;
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
  void SetUp() override {
    if (cluster == nullptr && cluster_unavailable) {
      GTEST_SKIP() << "Slurm tests skipped: " << skip_reason;
    }
    if (cluster == nullptr) FAIL() << skip_reason;
    daemon_ = std::make_unique<Daemon>(
        "policy: slurm\nslurm:\n  poll_interval: 100ms\n  max_jobs: 8\n"
        "security:\n  env_allow: [PATH, HOME, LANG, GREETING]\n" +
        extra_yaml_);
    ASSERT_TRUE(daemon_->Start()) << daemon_->log();
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

  std::string extra_yaml_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(Slurm, ExecTaskKeepsExitCodeOutputAndTimes) {
  const CommandResult r = daemon_->Taskq(
      {"--json", "submit", "--wait", "exec", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out << r.err;
  EXPECT_EQ(j["state"], "failed") << j.dump();
  EXPECT_EQ(j["exit_code"], 3) << j.dump();
  ASSERT_TRUE(j["slurm_job_id"].is_number()) << j.dump();
  EXPECT_GT(j["slurm_job_id"].get<int>(), 0);
  EXPECT_TRUE(j["started_at"].is_number()) << j.dump();
  EXPECT_TRUE(j["finished_at"].is_number()) << j.dump();
  EXPECT_TRUE(j["run_us"].is_number()) << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("slurm job"), std::string::npos) << j.dump();
  const std::string id = std::to_string(j["id"].get<uint64_t>());
  EXPECT_EQ(daemon_->Taskq({"logs", id}).out, "hi\n");
  EXPECT_EQ(daemon_->Taskq({"logs", "--stderr", id}).out, "oops\n");
  EXPECT_EQ(cluster->JobState(j["slurm_job_id"].get<int>()), "FAILED");
}

// Issue 8's contract: a group runs on the cluster beside local groups of the same daemon, and its
// tasks read back as local ones do.
TEST_F(Slurm, ClusterGroupBesideALocalPool) {
  daemon_->WriteConfig(
      "policy: pool\nworkers: 1\ngroups:\n  cluster:\n    policy: slurm\n"
      "slurm:\n  poll_interval: 100ms\n  max_jobs: 8\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(daemon_->WaitForLog("configuration reloaded")) << daemon_->log();
  const CommandResult r = daemon_->Taskq({"--json", "submit", "--wait", "exec", "--group",
                                          "cluster", "--", "sh", "-c", "echo hi; exit 3"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out << r.err;
  EXPECT_EQ(j["group"], "cluster") << j.dump();
  EXPECT_EQ(j["state"], "failed") << j.dump();
  EXPECT_EQ(j["exit_code"], 3) << j.dump();
  EXPECT_TRUE(j["slurm_job_id"].is_number()) << j.dump();
  EXPECT_TRUE(j["run_us"].is_number()) << j.dump();
  EXPECT_EQ(daemon_->Taskq({"logs", std::to_string(j["id"].get<uint64_t>())}).out, "hi\n");
  // The default group runs locally, in its pool worker.
  const CommandResult local =
      daemon_->Taskq({"--json", "submit", "--wait", "cpu", "--count", "10"});
  EXPECT_EQ(local.exit_code, 0) << local.err;
  const nlohmann::json l = nlohmann::json::parse(local.out, nullptr, false);
  EXPECT_EQ(l["group"], "default") << l.dump();
  EXPECT_FALSE(l.contains("slurm_job_id")) << l.dump();
}

TEST_F(Slurm, SucceedingExecTaskSeesItsEnvironmentAndDirectory) {
  const CommandResult r =
      daemon_->Taskq({"--json", "submit", "--wait", "exec", "--env", "GREETING=it's me", "--", "sh",
                      "-c", "echo \"$GREETING $TASKQ_TASK_ID\"; pwd"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["state"], "succeeded");
  EXPECT_EQ(j["exit_code"], 0);
  const std::string id = std::to_string(j["id"].get<uint64_t>());
  // The job runs where the submitter was, as under the other policies.
  EXPECT_EQ(daemon_->Taskq({"logs", id}).out,
            "it's me " + id + "\n" + std::filesystem::current_path().string() + "\n");
}

TEST_F(Slurm, CpuAndIoTasksGiveTheirResults) {
  const uint64_t cpu = Submit({"cpu", "--count", "5000", "--seed", "7"});
  const uint64_t io = Submit({"io", "--bytes", "12345"});
  const nlohmann::json c = Wait(cpu);
  EXPECT_EQ(c["state"], "succeeded") << c.dump();
  EXPECT_EQ(c["result"]["checksum"], fmt::format("{:016x}", RunCpuKernel(5000, 7).checksum));
  EXPECT_EQ(c["result"]["count"], 5000);
  EXPECT_TRUE(c["slurm_job_id"].is_number()) << c.dump();
  const nlohmann::json i = Wait(io);
  EXPECT_EQ(i["state"], "succeeded") << i.dump();
  EXPECT_EQ(i["result"]["bytes"], 12345);
  struct stat st {};
  ASSERT_EQ(::stat(i["result"]["path"].get<std::string>().c_str(), &st), 0) << i.dump();
  EXPECT_EQ(st.st_size, 12345);
}

TEST_F(Slurm, CancelStopsARunningJob) {
  const uint64_t id = Submit({"exec", "--", "sh", "-c", "echo started; exec sleep 300"});
  const std::string id_text = std::to_string(id);
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", id_text}).out == "started\n";
  })) << Status(id).dump();
  const CommandResult cancelled = daemon_->Taskq({"cancel", id_text});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "cancelled") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("cancelled while running"), std::string::npos);
  EXPECT_EQ(cluster->JobState(j["slurm_job_id"].get<int>()), "CANCELLED");
}

TEST_F(Slurm, TimeoutCancelsTheJobAndMarksTimedOut) {
  const uint64_t id = Submit({"exec", "--timeout", "1", "--", "sleep", "300"});
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "timed_out") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("timed out after 1000 ms"), std::string::npos)
      << j.dump();
  EXPECT_EQ(cluster->JobState(j["slurm_job_id"].get<int>()), "CANCELLED");
}

TEST_F(Slurm, RefusedSubmissionFailsWithSbatchsReason) {
  daemon_->WriteConfig("policy: slurm\nslurm:\n  partition: nosuchpartition\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(daemon_->WaitForLog("configuration reloaded"));
  const uint64_t id = Submit({"exec", "--", "true"});
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "failed") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("sbatch refused the job"), std::string::npos)
      << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("partition"), std::string::npos) << j.dump();
}

}  // namespace
}  // namespace taskq::testing

namespace taskq::testing {
namespace {

// A job whose first run blocks until the node fails, and whose second run succeeds at once.
std::vector<std::string> FirstRunBlocks(const std::string& mark) {
  return {"sh", "-c",
          fmt::format("if [ -e {0} ]; then echo second; else touch {0}; echo started; exec sleep "
                      "300; fi",
                      mark)};
}

TEST_F(Slurm, NodeFailureResubmitsWhileRetriesAllow) {
  std::vector<std::string> args = {"exec", "--retries", "1", "--"};
  for (const std::string& word : FirstRunBlocks(daemon_->dir() + "/mark")) args.push_back(word);
  const uint64_t id = Submit(args);
  ASSERT_TRUE(WaitUntil([&] { return Status(id)["started_at"].is_number(); }));
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(id)}).out == "started\n";
  }));
  const int first_job = Status(id)["slurm_job_id"].get<int>();
  ASSERT_TRUE(cluster->FailNode());
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "succeeded") << j.dump();
  EXPECT_EQ(j["attempts"], 2) << j.dump();
  EXPECT_NE(j["slurm_job_id"].get<int>(), first_job);
  EXPECT_EQ(cluster->JobState(first_job), "NODE_FAIL");
  EXPECT_EQ(daemon_->Taskq({"logs", std::to_string(id)}).out, "second\n");
}

TEST_F(Slurm, NodeFailureWithoutRetriesLosesTheTask) {
  std::vector<std::string> args = {"exec", "--retries", "0", "--"};
  for (const std::string& word : FirstRunBlocks(daemon_->dir() + "/mark")) args.push_back(word);
  const uint64_t id = Submit(args);
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(id)}).out == "started\n";
  }));
  ASSERT_TRUE(cluster->FailNode());
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "lost") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("NODE_FAIL"), std::string::npos) << j.dump();
}

TEST_F(Slurm, UnreachableControllerLosesTasksInsteadOfHanging) {
  daemon_->WriteConfig("policy: slurm\nslurm:\n  poll_interval: 100ms\n  controller_timeout: 5s\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(daemon_->WaitForLog("configuration reloaded"));
  const uint64_t id =
      Submit({"exec", "--retries", "0", "--", "sh", "-c", "echo started; exec sleep 300"});
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(id)}).out == "started\n";
  }));
  const int job = Status(id)["slurm_job_id"].get<int>();
  const pid_t controller = cluster->ControllerPid();
  ASSERT_GT(controller, 0);
  ASSERT_EQ(::kill(controller, SIGSTOP), 0);  // it keeps its sockets but answers nothing
  const nlohmann::json j = Wait(id);
  ::kill(controller, SIGCONT);
  EXPECT_EQ(j["state"], "lost") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("slurm controller unreachable"), std::string::npos)
      << j.dump();
  // Back again, the controller gets taskq's scancel: nothing is left running.
  EXPECT_EQ(j["slurm_job_id"], job);
  EXPECT_TRUE(WaitUntil([&] { return cluster->JobState(job) == "CANCELLED"; }))
      << cluster->JobState(job);
}

}  // namespace
}  // namespace taskq::testing

namespace taskq {
namespace {

// The pieces that need no cluster: command lines, parsing, configuration.
TEST(SlurmCommands, SbatchLineCarriesEveryOption) {
  SlurmOptions options;
  options.partition = "batch";
  options.cpus_per_task = 2;
  options.extra_args = {"--qos=short"};
  SlurmJobRequest job;
  job.command = {"sh", "-c", "echo it's"};
  job.cwd = "/work";
  job.stdout_path = "/s/logs/7.out";
  job.stderr_path = "/s/logs/7.err";
  job.time_limit_ms = 61000;
  job.task_id = 7;
  const std::vector<std::string> argv = SbatchArgv(options, "q", job);
  const std::vector<std::string> expected = {"sbatch",
                                             "--parsable",
                                             "--job-name=taskq-q",
                                             "--comment=taskq task 7",
                                             "--output=/s/logs/7.out",
                                             "--error=/s/logs/7.err",
                                             "--chdir=/work",
                                             "--export=ALL",
                                             "--no-requeue",
                                             "--ntasks=1",
                                             "--cpus-per-task=2",
                                             "--partition=batch",
                                             "--time=2",
                                             "--qos=short",
                                             "--wrap=exec 'sh' '-c' 'echo it'\\''s'"};
  EXPECT_EQ(argv, expected);
  options.bin_dir = "/opt/slurm/bin";
  EXPECT_EQ(SqueueArgv(options, "q")[0], "/opt/slurm/bin/squeue");
  EXPECT_EQ(ScancelArgv(options, {4, 5}),
            (std::vector<std::string>{"/opt/slurm/bin/scancel", "4", "5"}));
}

TEST(SlurmCommands, ParsesSbatchAndSqueueOutput) {
  uint32_t id = 0;
  EXPECT_TRUE(ParseSbatchOutput("42\n", &id));
  EXPECT_EQ(id, 42u);
  EXPECT_TRUE(ParseSbatchOutput("43;cluster\n", &id));
  EXPECT_EQ(id, 43u);
  EXPECT_FALSE(ParseSbatchOutput("", &id));
  EXPECT_FALSE(ParseSbatchOutput("sbatch: error\n", &id));
  const auto jobs = ParseSqueueOutput(
      "1|FAILED|NonZeroExitCode|768|2026-12-02T12:04:11|2026-12-02T12:04:12|vm|\n"
      "2|PENDING|Priority|0|N/A|N/A||\n"
      "garbage\n"
      "3_1|RUNNING|None|0|N/A|N/A||\n");
  ASSERT_EQ(jobs.size(), 2u);
  const SlurmJobStatus& failed = jobs.at(1);
  EXPECT_EQ(failed.state, "FAILED");
  EXPECT_EQ(failed.reason, "NonZeroExitCode");
  EXPECT_EQ(failed.wait_status, 768);
  EXPECT_EQ(failed.end_us - failed.start_us, 1000000u);
  EXPECT_EQ(failed.nodes, "vm");
  EXPECT_EQ(jobs.at(2).start_us, 0u);
  EXPECT_TRUE(IsFinalJobState("NODE_FAIL"));
  EXPECT_FALSE(IsFinalJobState("COMPLETING"));
  EXPECT_TRUE(
      IsTransientSlurmError("sbatch: error: Batch job submission failed: Unable to contact "
                            "slurm controller (connect failure)"));
  EXPECT_FALSE(IsTransientSlurmError("sbatch: error: invalid partition specified: x"));
  EXPECT_EQ(SlurmTimeLimit(1), "1");
  EXPECT_EQ(SlurmTimeLimit(120000), "2");
}

TEST(SlurmCommands, ParsesTheRunnersResultLine) {
  TaskOutcome outcome;
  ASSERT_TRUE(ParseRunnerResult(
      "noise\n{\"kind\":\"cpu\",\"checksum\":\"00000000000000ff\",\"count\":5,\"user_us\":9}\n\n",
      &outcome));
  EXPECT_EQ(outcome.state, TaskState::kSucceeded);
  EXPECT_EQ(outcome.result_checksum, 255u);
  EXPECT_EQ(outcome.result_count, 5u);
  EXPECT_EQ(outcome.user_us, 9u);
  TaskOutcome failed;
  ASSERT_TRUE(ParseRunnerResult("{\"kind\":\"io\",\"error\":\"cannot open /x\"}\n", &failed));
  EXPECT_EQ(failed.state, TaskState::kFailed);
  EXPECT_EQ(failed.reason, "cannot open /x");
  TaskOutcome none;
  EXPECT_FALSE(ParseRunnerResult("Killed\n", &none));
}

TEST(SlurmConfig, LoadsAndRoundTripsTheSlurmMap) {
  Options options;
  ASSERT_TRUE(LoadOptionsFromString("policy: slurm\nslurm:\n  partition: batch\n  time_limit: 2h\n"
                                    "  extra_args: [\"--qos=short\"]\n  poll_interval: 250ms\n"
                                    "  max_jobs: 7\n",
                                    "t.yaml", &options)
                  .ok());
  EXPECT_EQ(options.policy, Policy::kSlurm);
  EXPECT_EQ(options.slurm.partition, "batch");
  EXPECT_EQ(options.slurm.time_limit_ms, 7200000u);
  EXPECT_EQ(options.slurm.poll_interval_ms, 250u);
  EXPECT_EQ(options.slurm.max_jobs, 7u);
  Options again;
  ASSERT_TRUE(LoadOptionsFromString(OptionsToYaml(options), "again", &again).ok());
  EXPECT_TRUE(again.slurm == options.slurm);
  const Status bad = LoadOptionsFromString("slurm:\n  extra_args: [qos]\n", "t.yaml", &options);
  EXPECT_EQ(bad.message().rfind("t.yaml:2:16: slurm.extra_args[0]: must be an sbatch option", 0),
            0u)
      << bad.message();
  const Status fast = LoadOptionsFromString("slurm:\n  poll_interval: 1ms\n", "t.yaml", &options);
  EXPECT_NE(fast.message().find("slurm.poll_interval: must be at least 10ms"), std::string::npos)
      << fast.message();
}

}  // namespace
}  // namespace taskq

namespace taskq::testing {
namespace {

// Issue 19, finding 1: every slurm executor numbered its sbatch/squeue output files from 0 in
// one directory, so two slurm groups overwrote each other's. Each now has a directory of its own.
TEST_F(Slurm, TwoSlurmGroupsKeepTheirHelperFilesApart) {
  daemon_->WriteConfig(
      "policy: slurm\nslurm:\n  poll_interval: 100ms\n  max_jobs: 8\ngroups:\n"
      "  a:\n    policy: slurm\n  b:\n    policy: slurm\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(daemon_->WaitForLog("configuration reloaded")) << daemon_->log();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 6; ++i) {
    for (const char* group : {"a", "b"}) {
      ids.push_back(Submit({"exec", "--group", group, "--", "sh", "-c", "echo $TASKQ_TASK_ID"}));
    }
  }
  std::set<std::string> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(daemon_->state_dir() + "/slurm")) {
    if (entry.is_directory() && entry.path().filename().string().rfind("group", 0) == 0) {
      dirs.insert(entry.path().filename().string());
    }
  }
  EXPECT_GE(dirs.size(), 3u);  // default, a, b: one each
  for (uint64_t id : ids) {
    const nlohmann::json j = Wait(id);
    EXPECT_EQ(j["state"], "succeeded") << j.dump();
    EXPECT_EQ(daemon_->Taskq({"logs", std::to_string(id)}).out, std::to_string(id) + "\n");
  }
}

// Finding 2: a restart of taskqd re-attaches to the jobs still in Slurm instead of requeueing
// their tasks (which ran them twice).
TEST_F(Slurm, RestartReattachesToARunningJob) {
  const std::string mark = daemon_->dir() + "/go";
  const std::string runs = daemon_->dir() + "/runs";
  const uint64_t id =
      Submit({"exec", "--retries", "2", "--", "sh", "-c",
              fmt::format("echo run >> {}; echo started; while [ ! -e {} ]; do sleep 0.1; done",
                          runs, mark)});
  ASSERT_TRUE(WaitUntil([&] {
    return daemon_->Taskq({"logs", std::to_string(id)}).out == "started\n";
  })) << Status(id).dump();
  const int job = Status(id)["slurm_job_id"].get<int>();
  daemon_->Kill();
  ASSERT_TRUE(daemon_->Start()) << daemon_->log();
  ASSERT_TRUE(daemon_->WaitForLog(fmt::format("re-attached to slurm job {}", job)))
      << daemon_->log();
  std::ofstream(mark).put('\n');
  const nlohmann::json j = Wait(id);
  EXPECT_EQ(j["state"], "succeeded") << j.dump();
  EXPECT_EQ(j["attempts"], 1) << j.dump();
  EXPECT_EQ(j["slurm_job_id"], job) << j.dump();
  EXPECT_EQ(ReadFile(runs), "run\n");
}

// Finding 3: taskq-run on the node opens an io task's path beneath io_root, as local workers do:
// a symlink planted inside io_root does not lead out of it.
TEST_F(Slurm, IoPathStaysBeneathIoRootOnTheNode) {
  const std::string outside = daemon_->dir() + "/outside";
  std::filesystem::create_directories(outside);
  const std::string io_root = daemon_->options().io_root;
  std::filesystem::create_directories(io_root);
  std::filesystem::create_directory_symlink(outside, io_root + "/escape");
  const nlohmann::json j = Wait(Submit({"io", "--bytes", "10", "--path", "escape/f"}));
  EXPECT_EQ(j["state"], "failed") << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("leads out of security.io_root"), std::string::npos)
      << j.dump();
  EXPECT_FALSE(Exists(outside + "/f"));
  // A plain relative path still works.
  const nlohmann::json ok = Wait(Submit({"io", "--bytes", "10", "--path", "sub.dat"}));
  EXPECT_EQ(ok["state"], "succeeded") << ok.dump();
  EXPECT_TRUE(Exists(io_root + "/sub.dat"));
}

// Finding 4: a job that Slurm keeps PENDING says why, in `taskq status` and in the log.
TEST_F(Slurm, PendingJobShowsItsReason) {
  daemon_->WriteConfig(
      "policy: slurm\nslurm:\n  poll_interval: 100ms\n  extra_args: [\"--begin=now+3600\"]\n");
  ASSERT_TRUE(daemon_->Signal(SIGHUP));
  ASSERT_TRUE(daemon_->WaitForLog("configuration reloaded"));
  const uint64_t id = Submit({"exec", "--", "true"});
  ASSERT_TRUE(WaitUntil([&] { return Status(id)["slurm_reason"] == "BeginTime"; }))
      << Status(id).dump();
  EXPECT_EQ(Status(id)["slurm_state"], "PENDING");
  EXPECT_NE(daemon_->Taskq({"status", std::to_string(id)}).out.find("PENDING (BeginTime)"),
            std::string::npos);
  EXPECT_TRUE(daemon_->WaitForLog(fmt::format("task {}: slurm job", id))) << daemon_->log();
  EXPECT_NE(daemon_->log().find("is pending (BeginTime)"), std::string::npos);
  EXPECT_EQ(daemon_->Taskq({"cancel", std::to_string(id)}).exit_code, 0);
  EXPECT_EQ(Wait(id)["state"], "cancelled");
}

}  // namespace
}  // namespace taskq::testing
