// The `taskq` command line against a real taskqd, under both policies: every command, what it
// prints (human and --json), its exit codes (0 ok, 1 a waited task did not succeed, 2 usage or
// bad input, 3 no daemon, 4 queue full, 5 wait timed out) and that every error is exactly one
// line on stderr. Tests never wait for a fixed time: a "gate" task runs until the test creates
// its gate file, and states are polled.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/segment.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using nlohmann::json;
using Args = std::vector<std::string>;

constexpr int kWaitMs = 30000;

// Execution settings every test daemon gets: two runners unless a test needs one, and short
// graces so that a test's cleanup never waits long.
std::string Settings(const std::string& policy, int runners = 2, const std::string& extra = "") {
  return "policy: " + policy + "\nworkers: " + std::to_string(runners) +
         "\nmax_parallel: " + std::to_string(runners) + "\nshutdown_grace: 2s\nkill_grace: 1s\n" +
         extra;
}

// The contract for failures: exit `code`, nothing on stdout (unless allowed), and exactly one
// line on stderr that starts with "taskq: " and names the problem (`needle`).
::testing::AssertionResult FailsWith(const CommandResult& r, int code,
                                     const std::string& needle = "", bool stdout_empty = true) {
  if (r.exit_code != code) {
    return ::testing::AssertionFailure() << "expected exit " << code << ", got " << Describe(r);
  }
  if (r.err.empty() || r.err.back() != '\n' || std::count(r.err.begin(), r.err.end(), '\n') != 1) {
    return ::testing::AssertionFailure() << "stderr is not exactly one line: " << Describe(r);
  }
  if (r.err.rfind("taskq: ", 0) != 0) {
    return ::testing::AssertionFailure() << "stderr does not start with 'taskq: ': " << Describe(r);
  }
  if (!needle.empty() && r.err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "stderr does not mention '" << needle << "': " << Describe(r);
  }
  if (stdout_empty && !r.out.empty()) {
    return ::testing::AssertionFailure() << "stdout is not empty: " << Describe(r);
  }
  return ::testing::AssertionSuccess();
}

json Parse(const std::string& text) {
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool IsUnsigned(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// Runs `taskq --json args...`, expects exit 0 and parses all of stdout.
json JsonOf(Daemon& daemon, const Args& args, int expected_exit = 0) {
  Args all = {"--json"};
  all.insert(all.end(), args.begin(), args.end());
  const CommandResult r = daemon.Taskq(all);
  EXPECT_EQ(r.exit_code, expected_exit) << Describe(r);
  json j = Parse(r.out);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << Describe(r);
  return j;
}

// `taskq --json submit KIND...`: the id of the new task (0 on failure).
uint64_t Submit(Daemon& daemon, const Args& kind) {
  Args args = {"submit"};
  args.insert(args.end(), kind.begin(), kind.end());
  json j = JsonOf(daemon, args);
  return j.is_object() && j.contains("id") ? j["id"].get<uint64_t>() : 0;
}

std::string StateOf(Daemon& daemon, uint64_t id) {
  const CommandResult r = daemon.Taskq({"--json", "status", std::to_string(id)});
  json j = Parse(r.out);
  return r.exit_code == 0 && j.is_object() ? j.value("state", "") : "";
}

bool ReachesState(Daemon& daemon, uint64_t id, const std::string& state) {
  return WaitUntil([&] { return StateOf(daemon, id) == state; }, kWaitMs);
}

// Clients asleep in the segment (a `wait`, or a `submit --block` on a full queue).
uint32_t SleepingClients(Daemon& daemon) {
  std::unique_ptr<Segment> segment;
  if (!Segment::Attach(daemon.options(), &segment).ok()) return 0;
  return segment->header()->waiters.load() + segment->header()->space_waiters.load();
}

// An exec task that runs until the gate file exists. Opening the gate at destruction lets the
// daemon drain fast whatever the test did; declare it after the Daemon.
class Gate {
 public:
  explicit Gate(const Daemon& daemon) : path_(daemon.dir() + "/gate") {}
  ~Gate() { Open(); }
  Args Task() const {
    return {"exec", "--", "/bin/sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.02; done", path_};
  }
  void Open() { std::ofstream(path_) << "open\n"; }

 private:
  std::string path_;
};

// The keys `--json` promises for a task (issue 2, section 7), with their types.
void ExpectTaskJson(const json& task) {
  ASSERT_TRUE(task.is_object()) << task.dump();
  for (const char* key : {"id", "kind", "state", "exit_code", "signal", "submitted_at",
                          "started_at", "finished_at", "queue_wait_us", "run_us", "user_us",
                          "sys_us", "max_rss_kb", "pid", "attempts", "result"}) {
    EXPECT_TRUE(task.contains(key)) << "missing key " << key << " in " << task.dump();
  }
  EXPECT_TRUE(task["id"].is_number_unsigned()) << task.dump();
  EXPECT_TRUE(task["kind"].is_string()) << task.dump();
  EXPECT_TRUE(task["state"].is_string()) << task.dump();
  EXPECT_TRUE(task["submitted_at"].is_number_unsigned()) << task.dump();
  // Unix epoch microseconds: after 2020-01-01.
  EXPECT_GT(task["submitted_at"].get<uint64_t>(), 1577836800000000ull) << task.dump();
  EXPECT_TRUE(task["attempts"].is_number_unsigned()) << task.dump();
  const std::string state = task.value("state", "");
  const bool finished = state != "queued" && state != "running";
  if (finished && state != "cancelled") {
    for (const char* key : {"started_at", "finished_at", "queue_wait_us", "run_us"}) {
      ASSERT_TRUE(task[key].is_number_unsigned()) << key << " in " << task.dump();
    }
    const uint64_t submitted = task["submitted_at"], started = task["started_at"],
                   finished_at = task["finished_at"];
    EXPECT_LE(submitted, started) << task.dump();
    EXPECT_LE(started, finished_at) << task.dump();
    EXPECT_EQ(task["queue_wait_us"].get<uint64_t>(), started - submitted) << task.dump();
    EXPECT_EQ(task["run_us"].get<uint64_t>(), finished_at - started) << task.dump();
    EXPECT_TRUE(task["user_us"].is_number_unsigned()) << task.dump();
    EXPECT_TRUE(task["sys_us"].is_number_unsigned()) << task.dump();
    EXPECT_TRUE(task["max_rss_kb"].is_number_unsigned()) << task.dump();
    EXPECT_TRUE(task["pid"].is_number_integer()) << task.dump();
    EXPECT_GT(task["pid"].get<int64_t>(), 0) << task.dump();
    EXPECT_GE(task["attempts"].get<uint64_t>(), 1u) << task.dump();
  }
  if (state == "queued") {
    EXPECT_TRUE(task["started_at"].is_null()) << task.dump();
    EXPECT_TRUE(task["finished_at"].is_null()) << task.dump();
    EXPECT_TRUE(task["result"].is_null()) << task.dump();
  }
}

class Cli : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

// ---- submit ------------------------------------------------------------------------------------

TEST_P(Cli, SubmitPrintsTheIdOfEachKind) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  uint64_t last = 0;
  for (const Args& kind : {Args{"cpu", "--count", "10"}, Args{"io", "--bytes", "10"},
                           Args{"exec", "--", "/bin/true"}}) {
    Args args = {"submit"};
    args.insert(args.end(), kind.begin(), kind.end());
    const CommandResult r = daemon.Taskq(args);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_TRUE(r.err.empty()) << Describe(r);
    const std::vector<std::string> lines = Lines(r.out);
    ASSERT_EQ(lines.size(), 1u) << Describe(r);
    ASSERT_TRUE(IsUnsigned(lines[0])) << Describe(r);
    const uint64_t id = std::stoull(lines[0]);
    EXPECT_GT(id, last) << "ids increase";
    last = id;
  }
  // --json before the command or after it: {"id": N} and nothing else.
  for (const Args& args : {Args{"--json", "submit", "cpu", "--count", "10"},
                           Args{"submit", "cpu", "--count", "10", "--json"}}) {
    const CommandResult r = daemon.Taskq(args);
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    ASSERT_EQ(Lines(r.out).size(), 1u) << Describe(r);
    const json j = Parse(r.out);
    ASSERT_TRUE(j.is_object()) << Describe(r);
    EXPECT_EQ(j.size(), 1u) << j.dump();
    ASSERT_TRUE(j["id"].is_number_unsigned()) << j.dump();
    EXPECT_GT(j["id"].get<uint64_t>(), last);
    last = j["id"].get<uint64_t>();
  }
  const CommandResult waited = daemon.Taskq({"wait", "--timeout", "30", std::to_string(last)});
  EXPECT_EQ(waited.exit_code, 0) << Describe(waited);
  // Human `submit --wait`: one summary line.
  const CommandResult human = daemon.Taskq({"submit", "--wait", "cpu", "--count", "100"});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  EXPECT_EQ(Lines(human.out).size(), 1u) << Describe(human);
  EXPECT_EQ(human.out.rfind("task ", 0), 0u) << Describe(human);
  EXPECT_NE(human.out.find(" succeeded"), std::string::npos) << Describe(human);
}

TEST_P(Cli, SubmitWaitJsonCpuResultIsDeterministic) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  auto run = [&](const std::string& seed) {
    const CommandResult r =
        daemon.Taskq({"submit", "--wait", "--json", "cpu", "--count", "20000", "--seed", seed});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(Lines(r.out).size(), 1u) << "one JSON object on one line: " << Describe(r);
    return Parse(r.out);
  };
  const json first = run("42");
  ExpectTaskJson(first);
  EXPECT_EQ(first.value("kind", ""), "cpu");
  EXPECT_EQ(first.value("state", ""), "succeeded");
  EXPECT_EQ(first["exit_code"], 0) << first.dump();
  EXPECT_TRUE(first["signal"].is_null()) << first.dump();
  EXPECT_EQ(first["attempts"], 1) << first.dump();
  ASSERT_TRUE(first["result"].is_object()) << first.dump();
  EXPECT_EQ(first["result"]["count"], 20000) << first.dump();
  ASSERT_TRUE(first["result"]["checksum"].is_string()) << first.dump();
  EXPECT_FALSE(first["result"]["checksum"].get<std::string>().empty());
  EXPECT_NE(first["pid"].get<int64_t>(), daemon.pid()) << "tasks do not run in the supervisor";

  const json again = run("42");
  ASSERT_TRUE(again.is_object());
  EXPECT_NE(again["id"], first["id"]);
  EXPECT_EQ(again["result"]["checksum"], first["result"]["checksum"])
      << "same --count and --seed give the same checksum";
  const json other = run("43");
  ASSERT_TRUE(other.is_object());
  EXPECT_EQ(other["result"]["count"], 20000);
  EXPECT_NE(other["result"]["checksum"], first["result"]["checksum"]);
}

TEST_P(Cli, IoWritesTheFileItReports) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult r = daemon.Taskq(
      {"submit", "--wait", "--json", "io", "--bytes", "10000", "--block", "1000", "--fsync"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const json task = Parse(r.out);
  ExpectTaskJson(task);
  EXPECT_EQ(task.value("kind", ""), "io");
  EXPECT_EQ(task.value("state", ""), "succeeded");
  ASSERT_TRUE(task["result"].is_object()) << task.dump();
  EXPECT_EQ(task["result"]["bytes"], 10000);
  const std::string path = task["result"].value("path", "");
  ASSERT_FALSE(path.empty()) << task.dump();
  EXPECT_EQ(path.rfind(daemon.state_dir(), 0), 0u) << "default path is under the state dir";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_EQ(std::filesystem::file_size(path), 10000u);
  EXPECT_EQ(task["spec"]["block"], 1000) << task.dump();
  EXPECT_EQ(task["spec"]["fsync"], true) << task.dump();

  // --path: the file is where the submitter said.
  const std::string custom = daemon.state_dir() + "/io/custom.dat";
  const CommandResult with_path =
      daemon.Taskq({"--json", "submit", "--wait", "io", "--bytes", "777", "--path", custom});
  ASSERT_EQ(with_path.exit_code, 0) << Describe(with_path);
  const json custom_task = Parse(with_path.out);
  ASSERT_TRUE(custom_task.is_object()) << Describe(with_path);
  EXPECT_EQ(custom_task["result"].value("path", ""), custom);
  EXPECT_EQ(custom_task["result"]["bytes"], 777);
  ASSERT_TRUE(std::filesystem::exists(custom));
  EXPECT_EQ(std::filesystem::file_size(custom), 777u);

  // --block before the kind is submit's (wait for space); after `io` it is the write size.
  const CommandResult queue_block =
      daemon.Taskq({"--json", "submit", "--block", "--wait", "io", "--bytes", "64"});
  ASSERT_EQ(queue_block.exit_code, 0) << Describe(queue_block);
  EXPECT_EQ(Parse(queue_block.out)["spec"]["block"], 4096) << Describe(queue_block);

  // Human status names the bytes and the path.
  const CommandResult status = daemon.Taskq({"status", std::to_string(task["id"].get<uint64_t>())});
  ASSERT_EQ(status.exit_code, 0) << Describe(status);
  EXPECT_NE(status.out.find("10000 bytes to " + path), std::string::npos) << status.out;
}

TEST_P(Cli, ExecExitCodePropagates) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult r =
      daemon.Taskq({"submit", "--wait", "--json", "exec", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 1) << "a waited task that failed: " << Describe(r);
  const json task = Parse(r.out);
  ExpectTaskJson(task);
  EXPECT_EQ(task.value("kind", ""), "exec");
  EXPECT_EQ(task.value("state", ""), "failed");
  EXPECT_EQ(task["exit_code"], 3) << task.dump();
  EXPECT_TRUE(task["signal"].is_null()) << task.dump();

  const CommandResult human =
      daemon.Taskq({"submit", "--wait", "exec", "--", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(human.exit_code, 1) << Describe(human);
  EXPECT_NE(human.out.find(" failed"), std::string::npos) << Describe(human);
  EXPECT_NE(human.out.find("exit 7"), std::string::npos) << Describe(human);

  const CommandResult ok = daemon.Taskq({"submit", "--wait", "--json", "exec", "--", "/bin/true"});
  EXPECT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_EQ(Parse(ok.out).value("state", ""), "succeeded") << Describe(ok);
  EXPECT_EQ(Parse(ok.out)["exit_code"], 0) << Describe(ok);
}

TEST_P(Cli, TimeoutEndsTimedOut) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult r = daemon.Taskq(
      {"submit", "--wait", "--json", "exec", "--timeout", "0.3", "--", "/bin/sleep", "30"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  const json task = Parse(r.out);
  ExpectTaskJson(task);
  EXPECT_EQ(task.value("state", ""), "timed_out") << task.dump();
  EXPECT_EQ(task["timeout_ms"], 300) << task.dump();
}

TEST_P(Cli, RetriesRerunATaskWhoseProcessDies) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult retried = daemon.Taskq({"submit", "--wait", "--json", "exec", "--retries",
                                              "2", "--", "/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(retried.exit_code, 1) << Describe(retried);
  const json task = Parse(retried.out);
  ExpectTaskJson(task);
  EXPECT_EQ(task.value("state", ""), "lost") << task.dump();
  EXPECT_EQ(task["attempts"], 3) << "one run and two retries: " << task.dump();
  EXPECT_EQ(task["signal"], 9) << task.dump();

  const CommandResult once =
      daemon.Taskq({"submit", "--wait", "--json", "exec", "--", "/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(once.exit_code, 1) << Describe(once);
  EXPECT_EQ(Parse(once.out).value("state", ""), "lost") << Describe(once);
  EXPECT_EQ(Parse(once.out)["attempts"], 1) << Describe(once);
}

TEST_P(Cli, ExecEnvCwdAndLogs) {
  // --env names must be allowed (security.env_allow).
  Daemon daemon(Settings(policy(), 2, "security:\n  env_allow: [PATH, FOO, TWO]\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string cwd = std::filesystem::canonical(daemon.dir()).string();
  const uint64_t id =
      Submit(daemon, {"exec", "--env", "FOO=bar", "--env", "TWO=2", "--cwd", cwd, "--", "/bin/sh",
                      "-c", "echo \"$FOO-$TWO-$TASKQ_TASK_ID\"; pwd; echo err >&2"});
  ASSERT_NE(id, 0u);
  const CommandResult waited = daemon.Taskq({"wait", "--timeout", "30", std::to_string(id)});
  ASSERT_EQ(waited.exit_code, 0) << Describe(waited);
  const CommandResult out = daemon.Taskq({"logs", std::to_string(id)});
  EXPECT_EQ(out.exit_code, 0) << Describe(out);
  EXPECT_EQ(out.out, "bar-2-" + std::to_string(id) + "\n" + cwd + "\n");
  const CommandResult err = daemon.Taskq({"logs", std::to_string(id), "--stderr"});
  EXPECT_EQ(err.exit_code, 0) << Describe(err);
  EXPECT_EQ(err.out, "err\n");

  // Without --cwd the task runs where taskq ran (this test's working directory).
  const CommandResult here =
      daemon.Taskq({"submit", "--wait", "--json", "exec", "--", "/bin/sh", "-c", "pwd"});
  ASSERT_EQ(here.exit_code, 0) << Describe(here);
  const uint64_t here_id = Parse(here.out)["id"].get<uint64_t>();
  const CommandResult pwd = daemon.Taskq({"logs", std::to_string(here_id)});
  EXPECT_EQ(pwd.out, std::filesystem::current_path().string() + "\n");

  // logs of a task that is not exec, and of no task.
  const uint64_t cpu = Submit(daemon, {"cpu", "--count", "10"});
  EXPECT_TRUE(FailsWith(daemon.Taskq({"logs", std::to_string(cpu)}), 2, "exec"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"logs", "999999"}), 2, "999999"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "exec", "--env", "NOEQUALS", "--", "/bin/true"}), 2,
                        "NOEQUALS"));
}

// What follows "--" is the command, never taskq's options: `make -C`, `sh -c` (issue 16). The
// two make lines are docs/GROUPS.md's, verbatim, run by bash with taskq on PATH.
TEST_P(Cli, EverythingAfterDoubleDashIsTheCommand) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::filesystem::create_directories(daemon.dir() + "/src");
  std::ofstream(daemon.dir() + "/src/Makefile")
      << "all:\n\t@echo built > built\ninstall:\n\t@test -f built && echo installed > installed\n";
  const std::string script =
      "set -e\ncd '" + daemon.dir() + "'\n" +
      "A=$(taskq submit exec -- make -C src)\n"
      "taskq submit exec --after \"$A\" -- make -C src install     # only if the build succeeded\n"
      "taskq wait --all --timeout 60\n";
  const std::string bin_dir = std::filesystem::path(TaskqPath()).parent_path().string();
  const CommandResult r =
      RunCommand({"/bin/bash", "-c", script}, "",
                 {{"PATH", bin_dir + ":/usr/bin:/bin"}, {"TASKQ_CONFIG", daemon.config_path()}});
  ASSERT_EQ(r.exit_code, 0) << Describe(r) << daemon.log();
  EXPECT_TRUE(std::filesystem::exists(daemon.dir() + "/src/installed"));

  const uint64_t first = Submit(daemon, {"cpu", "--count", "10"});
  const CommandResult hi = daemon.Taskq({"--json", "submit", "--wait", "exec", "--after",
                                         std::to_string(first), "--", "sh", "-c", "echo hi"});
  ASSERT_EQ(hi.exit_code, 0) << Describe(hi);
  EXPECT_EQ(daemon.Taskq({"logs", std::to_string(Parse(hi.out)["id"].get<uint64_t>())}).out,
            "hi\n");
  // The same in a batch line; "--" after another kind is refused.
  const CommandResult batch = daemon.Taskq(
      {"submit", "--batch", "-"}, "exec --after " + std::to_string(first) + " -- sh -c 'exit 0'\n");
  EXPECT_EQ(batch.exit_code, 0) << Describe(batch);
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "cpu", "--", "--count"}), 2, "--"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--batch", "-"}, "cpu -- x\n"), 2, "--"));
}

// ---- submit --batch ----------------------------------------------------------------------------

TEST_P(Cli, BatchSubmitsOneTaskPerLine) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string file = daemon.dir() + "/batch.txt";
  std::ofstream(file) << "# a comment\n"
                         "cpu --count 1000 --seed 3\n"
                         "\n"
                         "   \n"
                         "io --bytes 64\n"
                         "exec -- /bin/sh -c \"echo 'hi there'\"\n";
  const CommandResult r = daemon.Taskq({"submit", "--batch", file});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(r.err.empty()) << Describe(r);
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << "one id per task line: " << Describe(r);
  std::vector<uint64_t> ids;
  for (const std::string& line : lines) {
    ASSERT_TRUE(IsUnsigned(line)) << Describe(r);
    ids.push_back(std::stoull(line));
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  const json tasks = JsonOf(daemon, {"wait", "--timeout", "30", lines[0], lines[1], lines[2]});
  ASSERT_TRUE(tasks.is_array()) << tasks.dump();
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].value("kind", ""), "cpu");
  EXPECT_EQ(tasks[0]["result"]["count"], 1000);
  EXPECT_EQ(tasks[0]["spec"]["seed"], 3);
  EXPECT_EQ(tasks[1].value("kind", ""), "io");
  EXPECT_EQ(tasks[2].value("kind", ""), "exec");
  for (const json& task : tasks) EXPECT_EQ(task.value("state", ""), "succeeded") << task.dump();
  EXPECT_EQ(daemon.Taskq({"logs", lines[2]}).out, "hi there\n");

  // From stdin. The JSON rule: --json prints one array of {"id": N} for several tasks, as
  // `submit --wait --json` does; --jsonl one object per line as each chunk lands.
  const CommandResult piped =
      daemon.Taskq({"--json", "submit", "--batch", "-"}, "cpu --count 5\nexec -- /bin/true\n");
  ASSERT_EQ(piped.exit_code, 0) << Describe(piped);
  const json piped_ids = Parse(piped.out);
  ASSERT_TRUE(piped_ids.is_array() && piped_ids.size() == 2) << Describe(piped);
  for (const json& id : piped_ids) EXPECT_TRUE(id.contains("id")) << id.dump();
  const CommandResult streamed =
      daemon.Taskq({"--jsonl", "submit", "--batch", "-"}, "cpu --count 5\nexec -- /bin/true\n");
  ASSERT_EQ(streamed.exit_code, 0) << Describe(streamed);
  const std::vector<std::string> json_lines = Lines(streamed.out);
  ASSERT_EQ(json_lines.size(), 2u) << Describe(streamed);
  for (const std::string& line : json_lines) {
    EXPECT_TRUE(Parse(line).is_object() && Parse(line).contains("id")) << line;
  }
  // One task, one object; kill/cancel of one id likewise, of several an array.
  EXPECT_TRUE(Parse(daemon.Taskq({"--json", "submit", "cpu", "--count", "5"}).out).is_object());
  const uint64_t held_a = Parse(daemon.Taskq({"--json", "submit", "--hold", "cpu"}).out)["id"];
  const uint64_t held_b = Parse(daemon.Taskq({"--json", "submit", "--hold", "cpu"}).out)["id"];
  const json cancelled =
      Parse(daemon.Taskq({"--json", "cancel", std::to_string(held_a), std::to_string(held_b)}).out);
  ASSERT_TRUE(cancelled.is_array() && cancelled.size() == 2) << cancelled.dump();
  EXPECT_EQ(cancelled[1]["state"], "cancelled");

  // --wait --json on a batch: one array of the finished tasks.
  const CommandResult waited = daemon.Taskq({"submit", "--wait", "--json", "--batch", "-"},
                                            "cpu --count 5\nexec -- /bin/sh -c 'exit 4'\n");
  EXPECT_EQ(waited.exit_code, 1) << "one of them failed: " << Describe(waited);
  const json array = Parse(waited.out);
  ASSERT_TRUE(array.is_array()) << Describe(waited);
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[0].value("state", ""), "succeeded");
  EXPECT_EQ(array[1].value("state", ""), "failed");
  EXPECT_EQ(array[1]["exit_code"], 4);
}

// Text a user typed is quoted back escaped (issue 22): an error stays one line and neither an
// error nor the task table can forge a row or drive the terminal.
TEST_P(Cli, ErrorsAndTablesEscapeControlCharacters) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  auto one_clean_line = [](const std::string& text) {
    return std::count(text.begin(), text.end(), '\n') == 1 && text.back() == '\n' &&
           text.find('\x1b') == std::string::npos && text.find('\r') == std::string::npos;
  };
  const CommandResult bad_arg = daemon.Taskq({"submit", "cpu", "--count", "1\n\x1b[2Jforged"});
  EXPECT_EQ(bad_arg.exit_code, 2) << bad_arg.err;
  EXPECT_TRUE(one_clean_line(bad_arg.err)) << bad_arg.err;
  EXPECT_NE(bad_arg.err.find("\\n\\x1b[2Jforged"), std::string::npos) << bad_arg.err;

  // The batch line the fuzzer found (tests/fuzz/corpus/batch_line/regress-newline-in-error).
  const std::string found("exec \x01\0\0\0\0\0\0\0\0mp --e2 -- /bin/sh -c 'ech\no \"hi\"'", 48);
  const CommandResult bad_line = daemon.Taskq({"submit", "--batch", "-"}, found);
  EXPECT_EQ(bad_line.exit_code, 2) << bad_line.err;
  EXPECT_TRUE(one_clean_line(bad_line.err)) << bad_line.err;

  const CommandResult ran = daemon.Taskq(
      {"submit", "--wait", "exec", "--", "/bin/echo", "a\nb\x1b[31m", "it's", "plain"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const CommandResult table = daemon.Taskq({"list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 2) << table.out;  // header + 1
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("/bin/echo $'a\\nb\\x1b[31m' 'it'\\''s' plain"), std::string::npos)
      << table.out;
}

TEST_P(Cli, BatchWithABadLineSubmitsNothing) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const struct {
    std::string text;
    std::string needle;
  } cases[] = {
      {"cpu --count 10\nbogus --count 1\n", "stdin:2:"},
      {"cpu --count 10\n\ncpu --count -1\n", "stdin:3:"},
      {"exec\n", "stdin:1:"},
      {"cpu --count 10\ncpu --wait\n", "stdin:2:"},
      {"cpu --count 10\nexec -- /bin/sh -c \"unterminated\n", "stdin:2:"},
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--batch", "-"}, c.text), 2, c.needle)) << c.text;
  }
  const std::string file = daemon.dir() + "/bad.txt";
  std::ofstream(file) << "cpu\nio --bytes 1\nio --bytes abc\n";
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--batch", file}), 2, file + ":3:"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--batch", daemon.dir() + "/missing.txt"}), 2,
                        "missing.txt"));
  EXPECT_TRUE(
      FailsWith(daemon.Taskq({"submit", "--batch", file, "cpu", "--count", "1"}), 2, "--batch"));
  // Nothing reached the queue.
  const json all = JsonOf(daemon, {"list"});
  ASSERT_TRUE(all.is_array()) << all.dump();
  EXPECT_EQ(all.size(), 0u) << all.dump();
}

// ---- status, wait, list ------------------------------------------------------------------------

TEST_P(Cli, StatusHumanAndJson) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = Submit(daemon, {"cpu", "--count", "1234", "--seed", "9"});
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(ReachesState(daemon, id, "succeeded")) << daemon.log();
  const CommandResult human = daemon.Taskq({"status", std::to_string(id)});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  EXPECT_NE(human.out.find("id:          " + std::to_string(id) + "\n"), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("state:       succeeded\n"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("cpu --count 1234 --seed 9"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("1234 numbers, checksum "), std::string::npos) << human.out;

  const json task = JsonOf(daemon, {"status", std::to_string(id)});
  ExpectTaskJson(task);
  EXPECT_EQ(task["id"], id);
  EXPECT_EQ(task["result"]["count"], 1234);
  // The human checksum is the JSON one.
  EXPECT_NE(human.out.find(task["result"]["checksum"].get<std::string>()), std::string::npos);

  EXPECT_TRUE(FailsWith(daemon.Taskq({"status", "999999"}), 2, "no task 999999"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"--json", "status", "999999"}), 2, "999999"));
}

TEST_P(Cli, WaitExitCodesAndOutput) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t good = Submit(daemon, {"cpu", "--count", "100"});
  const uint64_t bad = Submit(daemon, {"exec", "--", "/bin/false"});
  ASSERT_NE(good, 0u);
  ASSERT_NE(bad, 0u);
  const std::string g = std::to_string(good), b = std::to_string(bad);

  const CommandResult one = daemon.Taskq({"wait", "--timeout", "30", g});
  EXPECT_EQ(one.exit_code, 0) << Describe(one);
  EXPECT_EQ(one.out.rfind("task " + g + " succeeded", 0), 0u) << Describe(one);
  EXPECT_EQ(Lines(one.out).size(), 1u) << Describe(one);

  const json object = JsonOf(daemon, {"wait", "--timeout", "30", g});
  ExpectTaskJson(object);
  EXPECT_EQ(object["id"], good);

  const CommandResult both = daemon.Taskq({"wait", "--timeout", "30", g, b});
  EXPECT_EQ(both.exit_code, 1) << "not all succeeded: " << Describe(both);
  EXPECT_TRUE(both.err.empty()) << Describe(both);
  const std::vector<std::string> lines = Lines(both.out);
  ASSERT_EQ(lines.size(), 3u) << Describe(both);  // a line per task, then the summary
  EXPECT_EQ(lines[0].rfind("task " + g + " succeeded", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("task " + b + " failed", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("1 succeeded, 1 failed in ", 0), 0u) << lines[2];

  const json array = JsonOf(daemon, {"wait", "--timeout", "30", g, b}, 1);
  ASSERT_TRUE(array.is_array()) << array.dump();
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[0]["id"], good);
  EXPECT_EQ(array[1]["id"], bad);
  EXPECT_EQ(array[1].value("state", ""), "failed");

  const CommandResult quiet = daemon.Taskq({"wait", "--quiet", g, b});
  EXPECT_EQ(quiet.exit_code, 1);
  EXPECT_TRUE(quiet.out.empty() && quiet.err.empty()) << Describe(quiet);

  // --all with nothing unfinished: nothing to wait for, success.
  const CommandResult all = daemon.Taskq({"wait", "--all", "--timeout", "30"});
  EXPECT_EQ(all.exit_code, 0) << Describe(all);

  EXPECT_TRUE(FailsWith(daemon.Taskq({"wait", g, "999999"}), 2, "999999"));
}

TEST_P(Cli, WaitTimeoutAndWaitAll) {
  Daemon daemon(Settings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Gate gate(daemon);
  const uint64_t blocker = Submit(daemon, gate.Task());
  ASSERT_NE(blocker, 0u);
  ASSERT_TRUE(ReachesState(daemon, blocker, "running")) << daemon.log();
  const uint64_t failing = Submit(daemon, {"exec", "--", "/bin/sh", "-c", "exit 1"});
  const uint64_t fine = Submit(daemon, {"cpu", "--count", "100"});
  EXPECT_EQ(StateOf(daemon, failing), "queued");
  EXPECT_EQ(StateOf(daemon, fine), "queued");

  // Expiry: exit 5, one line on stderr, the current view on stdout.
  const CommandResult expired = daemon.Taskq({"wait", "--timeout", "0.2", std::to_string(blocker)});
  EXPECT_TRUE(FailsWith(expired, 5, "timed out", /*stdout_empty=*/false));
  EXPECT_EQ(expired.out.rfind("task " + std::to_string(blocker) + " running", 0), 0u)
      << Describe(expired);
  const CommandResult all_expired = daemon.Taskq({"--json", "wait", "--all", "--timeout", "0.2"});
  EXPECT_TRUE(FailsWith(all_expired, 5, "", /*stdout_empty=*/false));
  const json view = Parse(all_expired.out);
  ASSERT_TRUE(view.is_array()) << Describe(all_expired);
  std::set<uint64_t> ids;
  for (const json& task : view) ids.insert(task["id"].get<uint64_t>());
  EXPECT_EQ(ids, (std::set<uint64_t>{blocker, failing, fine})) << view.dump();

  // `wait --all` covers what was unfinished when it started; one failed task makes it exit 1.
  // Open the gate only once the waiter sleeps in the segment, so it has taken its list.
  auto waiter = std::async(std::launch::async, [&] {
    return daemon.Taskq({"wait", "--all", "--timeout", "30"});
  });
  EXPECT_TRUE(WaitUntil([&] { return SleepingClients(daemon) >= 1; }, kWaitMs));
  gate.Open();
  const CommandResult all = waiter.get();
  EXPECT_EQ(all.exit_code, 1) << Describe(all);
  EXPECT_NE(all.out.find("task " + std::to_string(failing) + " failed"), std::string::npos)
      << Describe(all);
  EXPECT_NE(all.out.find("task " + std::to_string(fine) + " succeeded"), std::string::npos)
      << Describe(all);
  ASSERT_EQ(Lines(all.out).size(), 4u) << Describe(all);  // three tasks and the summary
  EXPECT_EQ(Lines(all.out)[3].rfind("2 succeeded, 1 failed in ", 0), 0u) << Describe(all);
}

// `wait --all` also waits for what arrives while it waits: here a task submitted once the
// waiter sleeps, behind the one it started with.
TEST_P(Cli, WaitAllWaitsForWhatArrivesMeanwhile) {
  Daemon daemon(Settings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Gate gate(daemon);
  const uint64_t blocker = Submit(daemon, gate.Task());
  ASSERT_TRUE(ReachesState(daemon, blocker, "running")) << daemon.log();
  auto waiter = std::async(std::launch::async, [&] {
    return daemon.Taskq({"wait", "--all", "--timeout", "60"});
  });
  EXPECT_TRUE(WaitUntil([&] { return SleepingClients(daemon) >= 1; }, kWaitMs));
  const uint64_t late = Submit(daemon, {"exec", "--", "/bin/sh", "-c", "exit 3"});
  gate.Open();
  const CommandResult all = waiter.get();
  EXPECT_EQ(all.exit_code, 1) << Describe(all);
  EXPECT_NE(all.out.find("task " + std::to_string(late) + " failed"), std::string::npos)
      << Describe(all);
  EXPECT_NE(all.out.find("1 succeeded, 1 failed in "), std::string::npos) << Describe(all);
}

TEST_P(Cli, ListFiltersAndLimits) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t cpu = Submit(daemon, {"cpu", "--count", "10"});
  const uint64_t failed = Submit(daemon, {"exec", "--", "/bin/false"});
  const uint64_t io = Submit(daemon, {"io", "--bytes", "10"});
  const CommandResult waited =
      daemon.Taskq({"wait", "--quiet", "--timeout", "30", std::to_string(cpu),
                    std::to_string(failed), std::to_string(io)});
  ASSERT_EQ(waited.exit_code, 1) << Describe(waited);

  const CommandResult human = daemon.Taskq({"list"});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  const std::vector<std::string> rows = Lines(human.out);
  ASSERT_EQ(rows.size(), 4u) << human.out;
  EXPECT_EQ(rows[0].rfind("ID", 0), 0u) << rows[0];
  EXPECT_NE(rows[0].find("STATE"), std::string::npos) << rows[0];
  EXPECT_EQ(rows[1].rfind(std::to_string(cpu) + " ", 0), 0u) << rows[1];
  EXPECT_NE(rows[2].find("failed"), std::string::npos) << rows[2];
  EXPECT_NE(rows[3].find("io"), std::string::npos) << rows[3];

  auto ids_of = [&](const Args& args) {
    const json array = JsonOf(daemon, args);
    std::vector<uint64_t> ids;
    EXPECT_TRUE(array.is_array()) << array.dump();
    if (!array.is_array()) return ids;
    for (const json& task : array) {
      ExpectTaskJson(task);
      ids.push_back(task["id"].get<uint64_t>());
    }
    return ids;
  };
  EXPECT_EQ(ids_of({"list"}), (std::vector<uint64_t>{cpu, failed, io}));
  EXPECT_EQ(ids_of({"list", "--limit", "2"}), (std::vector<uint64_t>{failed, io}));
  EXPECT_EQ(ids_of({"list", "--limit", "0"}), std::vector<uint64_t>{});
  EXPECT_EQ(ids_of({"list", "--state", "failed"}), std::vector<uint64_t>{failed});
  EXPECT_EQ(ids_of({"list", "--state", "succeeded"}), (std::vector<uint64_t>{cpu, io}));
  EXPECT_EQ(ids_of({"list", "--state", "succeeded", "--limit", "1"}), std::vector<uint64_t>{io});
  EXPECT_EQ(ids_of({"list", "--state", "cancelled"}), std::vector<uint64_t>{});
  const CommandResult none = daemon.Taskq({"list", "--state", "queued"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_EQ(Lines(none.out).size(), 1u) << "only the header: " << none.out;

  EXPECT_TRUE(FailsWith(daemon.Taskq({"list", "--state", "bogus"}), 2, "bogus"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"list", "--limit", "-1"}), 2, "--limit"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"list", "--limit", "many"}), 2, "--limit"));
}

// ---- cancel, stats with queued work ------------------------------------------------------------

TEST_P(Cli, CancelQueuedTasksOnly) {
  Daemon daemon(Settings(policy(), 1));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Gate gate(daemon);
  const uint64_t blocker = Submit(daemon, gate.Task());
  ASSERT_NE(blocker, 0u);
  ASSERT_TRUE(ReachesState(daemon, blocker, "running")) << daemon.log();
  const uint64_t q1 = Submit(daemon, {"cpu", "--count", "10"});
  const uint64_t q2 = Submit(daemon, {"exec", "--", "/bin/true"});
  const uint64_t q3 = Submit(daemon, {"cpu", "--count", "10"});
  ASSERT_EQ(StateOf(daemon, q1), "queued");
  ASSERT_EQ(StateOf(daemon, q2), "queued");
  ExpectTaskJson(JsonOf(daemon, {"status", std::to_string(q1)}));

  // Stats see one running and three queued.
  const json stats = JsonOf(daemon, {"stats"});
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  EXPECT_EQ(stats["counts"]["running"], 1) << stats.dump();
  EXPECT_EQ(stats["counts"]["queued"], 3) << stats.dump();
  EXPECT_EQ(stats["queue_depth"], 3) << stats.dump();
  const CommandResult human_stats = daemon.Taskq({"stats"});
  EXPECT_NE(human_stats.out.find("queue depth: 3\n"), std::string::npos) << human_stats.out;

  const CommandResult cancelled = daemon.Taskq({"cancel", std::to_string(q1)});
  EXPECT_EQ(cancelled.exit_code, 0) << Describe(cancelled);
  EXPECT_EQ(cancelled.out, "task " + std::to_string(q1) + " cancelled\n");
  const json cancelled_json = JsonOf(daemon, {"cancel", std::to_string(q2)});
  EXPECT_EQ(cancelled_json["id"], q2) << cancelled_json.dump();
  EXPECT_EQ(cancelled_json.value("state", ""), "cancelled") << cancelled_json.dump();

  const json status = JsonOf(daemon, {"status", std::to_string(q1)});
  ExpectTaskJson(status);
  EXPECT_EQ(status.value("state", ""), "cancelled");
  EXPECT_TRUE(status["result"].is_null()) << status.dump();
  // A cancelled exec task has no output, and waiting for it does not succeed.
  const CommandResult logs = daemon.Taskq({"logs", std::to_string(q2)});
  EXPECT_EQ(logs.exit_code, 0) << Describe(logs);
  EXPECT_TRUE(logs.out.empty()) << Describe(logs);
  EXPECT_EQ(daemon.Taskq({"wait", "--quiet", std::to_string(q1)}).exit_code, 1);

  // Not queued (any more): a one-line error naming the state.
  EXPECT_TRUE(FailsWith(daemon.Taskq({"cancel", std::to_string(q1)}), 1, "cancelled"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"cancel", std::to_string(blocker)}), 1, "running"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"cancel", "999999"}), 2, "999999"));

  gate.Open();
  const CommandResult waited =
      daemon.Taskq({"wait", "--timeout", "30", std::to_string(blocker), std::to_string(q3)});
  EXPECT_EQ(waited.exit_code, 0) << Describe(waited);
  EXPECT_TRUE(FailsWith(daemon.Taskq({"cancel", std::to_string(blocker)}), 1, "succeeded"));
}

// ---- full queue
// ------------------------------------------------------------------------------------

TEST_P(Cli, FullQueueExits4AndBlockWaitsForSpace) {
  // 16 slots; finished tasks are not retained, so a finished or cancelled task frees its slot.
  Daemon daemon(Settings(policy(), 1, "capacity: 16\nretention:\n  count: 0\n"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  Gate gate(daemon);
  const uint64_t blocker = Submit(daemon, gate.Task());
  ASSERT_NE(blocker, 0u);
  ASSERT_TRUE(ReachesState(daemon, blocker, "running")) << daemon.log();
  std::vector<uint64_t> queued;
  CommandResult full;
  for (int i = 0; i < 40; ++i) {
    full = daemon.Taskq({"submit", "cpu", "--count", "10"});
    if (full.exit_code != 0) break;
    queued.push_back(std::stoull(full.out));
  }
  EXPECT_TRUE(FailsWith(full, 4, "full"));
  EXPECT_EQ(queued.size(), 15u) << "16 slots: the running blocker and 15 queued";
  ASSERT_GE(queued.size(), 3u);
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "exec", "--", "/bin/true"}), 4, "full"));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--batch", "-"}, "cpu\n"), 4, "full"));

  // --block bounded by --timeout: still full when it expires.
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "--block", "cpu", "--timeout", "0.2"}), 4, "full"));

  // A batch that only partly fits: the ids that made it on stdout, one line on stderr.
  ASSERT_EQ(daemon.Taskq({"cancel", std::to_string(queued[0])}).exit_code, 0);
  const CommandResult partial =
      daemon.Taskq({"submit", "--batch", "-"}, "cpu --count 1\ncpu --count 2\n");
  EXPECT_TRUE(FailsWith(partial, 4, "1 of 2", /*stdout_empty=*/false));
  EXPECT_EQ(Lines(partial.out).size(), 1u) << Describe(partial);

  // --block waits, and succeeds once a cancel frees a slot.
  auto blocked = std::async(std::launch::async, [&] {
    return daemon.Taskq({"submit", "--block", "cpu", "--count", "7", "--timeout", "30"});
  });
  EXPECT_TRUE(WaitUntil([&] { return SleepingClients(daemon) >= 1; }, kWaitMs));
  ASSERT_EQ(daemon.Taskq({"cancel", std::to_string(queued[1])}).exit_code, 0);
  const CommandResult unblocked = blocked.get();
  ASSERT_EQ(unblocked.exit_code, 0) << Describe(unblocked);
  EXPECT_TRUE(IsUnsigned(FirstLine(unblocked.out))) << Describe(unblocked);
  const uint64_t late = std::stoull(unblocked.out);

  // ...or once running work finishes.
  auto blocked_again = std::async(std::launch::async, [&] {
    return daemon.Taskq({"--json", "submit", "--block", "cpu", "--count", "8", "--timeout", "30"});
  });
  EXPECT_TRUE(WaitUntil([&] { return SleepingClients(daemon) >= 1; }, kWaitMs));
  gate.Open();
  const CommandResult after_finish = blocked_again.get();
  ASSERT_EQ(after_finish.exit_code, 0) << Describe(after_finish);
  const uint64_t last = Parse(after_finish.out).value("id", uint64_t{0});
  ASSERT_NE(last, 0u) << Describe(after_finish);
  const json done =
      JsonOf(daemon, {"wait", "--timeout", "30", std::to_string(late), std::to_string(last)});
  ASSERT_TRUE(done.is_array()) << done.dump();
  for (const json& task : done) EXPECT_EQ(task.value("state", ""), "succeeded") << task.dump();
}

// ---- the daemon as a whole ---------------------------------------------------------------------

TEST_P(Cli, StatsPingDoctor) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult waited = daemon.Taskq({"submit", "--wait", "--batch", "-"},
                                            "cpu --count 10\ncpu --count 20\nexec -- /bin/false\n");
  EXPECT_EQ(waited.exit_code, 1) << Describe(waited);

  const json stats = JsonOf(daemon, {"stats"});
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  EXPECT_EQ(stats.value("queue", ""), daemon.queue());
  EXPECT_EQ(stats["daemon_running"], true);
  EXPECT_EQ(stats["pid"], daemon.pid());
  EXPECT_EQ(stats.value("policy", ""), policy());
  for (const char* state :
       {"queued", "running", "succeeded", "failed", "timed_out", "cancelled", "lost"}) {
    EXPECT_TRUE(stats["counts"].contains(state)) << state << " in " << stats.dump();
  }
  EXPECT_EQ(stats["counts"]["succeeded"], 2) << stats.dump();
  EXPECT_EQ(stats["counts"]["failed"], 1) << stats.dump();
  EXPECT_EQ(stats["counts"]["queued"], 0) << stats.dump();
  EXPECT_EQ(stats["queue_depth"], 0) << stats.dump();
  EXPECT_EQ(stats["submitted_total"], 3) << stats.dump();
  EXPECT_EQ(stats["finished_total"], 3) << stats.dump();
  EXPECT_TRUE(stats["throughput_per_s"].is_number()) << stats.dump();
  EXPECT_GE(stats["throughput_per_s"].get<double>(), 0.0);
  EXPECT_TRUE(stats["capacity"].is_number_unsigned()) << stats.dump();
  if (policy() == "pool") {
    EXPECT_EQ(stats["workers_wanted"], 2) << stats.dump();
    EXPECT_TRUE(WaitUntil([&] { return JsonOf(daemon, {"stats"})["workers"] == 2; }, kWaitMs));
  } else {
    EXPECT_EQ(stats["max_parallel"], 2) << stats.dump();
  }

  const CommandResult human = daemon.Taskq({"stats"});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  EXPECT_NE(human.out.find("queue:       " + daemon.queue()), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("daemon:      pid " + std::to_string(daemon.pid())), std::string::npos)
      << human.out;
  EXPECT_NE(human.out.find("policy:      " + policy()), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("queue depth: 0\n"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("succeeded 2"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("failed 1"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("throughput:  "), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("3 submitted, 3 finished"), std::string::npos) << human.out;

  const CommandResult ping = daemon.Taskq({"ping"});
  EXPECT_EQ(ping.exit_code, 0) << Describe(ping);
  EXPECT_EQ(ping.out,
            "taskqd pid " + std::to_string(daemon.pid()) + ": ready, policy " + policy() + "\n");
  const json pong = JsonOf(daemon, {"ping", "--timeout", "30"});
  EXPECT_EQ(pong["pid"], daemon.pid()) << pong.dump();
  EXPECT_EQ(pong["ready"], true) << pong.dump();
  EXPECT_EQ(pong.value("policy", ""), policy()) << pong.dump();

  const CommandResult doctor = daemon.Taskq({"doctor"});
  EXPECT_EQ(doctor.exit_code, 0) << Describe(doctor);
  EXPECT_EQ(doctor.out, "segment of queue '" + daemon.queue() + "' is healthy\n");
  const json checked = JsonOf(daemon, {"doctor"});
  EXPECT_EQ(checked["healthy"], true) << checked.dump();
  EXPECT_EQ(checked["problems"].size(), 0u) << checked.dump();
}

TEST_P(Cli, ShutdownKeepsResultsReadable) {
  Daemon daemon(Settings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult cpu = daemon.Taskq({"--json", "submit", "--wait", "cpu", "--count", "50"});
  ASSERT_EQ(cpu.exit_code, 0) << Describe(cpu);
  const json before = Parse(cpu.out);
  const CommandResult exec =
      daemon.Taskq({"--json", "submit", "--wait", "exec", "--", "/bin/sh", "-c", "echo kept"});
  ASSERT_EQ(exec.exit_code, 0) << Describe(exec);
  const std::string cpu_id = std::to_string(before["id"].get<uint64_t>());
  const std::string exec_id = std::to_string(Parse(exec.out)["id"].get<uint64_t>());

  const CommandResult shutdown = daemon.Taskq({"shutdown", "--timeout", "30"});
  EXPECT_EQ(shutdown.exit_code, 0) << Describe(shutdown);
  EXPECT_TRUE(shutdown.err.empty()) << Describe(shutdown);
  EXPECT_EQ(daemon.WaitExit(kWaitMs), 0) << daemon.log();

  // The segment outlives the daemon: results stay readable.
  const json after = JsonOf(daemon, {"status", cpu_id});
  EXPECT_EQ(after.value("state", ""), "succeeded") << after.dump();
  EXPECT_EQ(after["result"], before["result"]);
  EXPECT_EQ(daemon.Taskq({"logs", exec_id}).out, "kept\n");
  EXPECT_EQ(JsonOf(daemon, {"list"}).size(), 2u);
  EXPECT_EQ(daemon.Taskq({"wait", cpu_id}).exit_code, 0);
  const json stats = JsonOf(daemon, {"stats"});
  EXPECT_EQ(stats["daemon_running"], false) << stats.dump();
  EXPECT_EQ(stats["counts"]["succeeded"], 2) << stats.dump();
  EXPECT_NE(daemon.Taskq({"stats"}).out.find("daemon:      not running"), std::string::npos);
  EXPECT_EQ(daemon.Taskq({"doctor"}).exit_code, 0);

  // What needs the daemon fails with exit 3.
  EXPECT_TRUE(FailsWith(daemon.Taskq({"ping"}), 3, daemon.queue()));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"submit", "cpu"}), 3, daemon.queue()));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"shutdown"}), 3, daemon.queue()));
}

INSTANTIATE_TEST_SUITE_P(Policies, Cli, ::testing::Values("pool", "process"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(CliPolicies, CpuChecksumIsTheSameUnderBothPolicies) {
  std::string checksum[2];
  int i = 0;
  for (const char* policy : {"pool", "process"}) {
    Daemon daemon(Settings(policy));
    ASSERT_TRUE(daemon.Start()) << daemon.log();
    const json task = JsonOf(daemon, {"submit", "--wait", "cpu", "--count", "5000", "--seed", "7"});
    ASSERT_TRUE(task.is_object()) << task.dump();
    checksum[i++] = task["result"].value("checksum", "");
  }
  EXPECT_FALSE(checksum[0].empty());
  EXPECT_EQ(checksum[0], checksum[1]);
}

// ---- without a daemon, and bad input -----------------------------------------------------------

TEST(CliNoDaemon, EveryCommandExits3) {
  Daemon never_started(Settings("pool"));  // a config naming a queue nobody serves
  for (const Args& args :
       {Args{"submit", "cpu", "--count", "1"}, Args{"submit", "--batch", "-"},
        Args{"submit", "--wait", "exec", "--", "/bin/true"}, Args{"status", "1"}, Args{"wait", "1"},
        Args{"wait", "--all"}, Args{"list"}, Args{"cancel", "1"}, Args{"logs", "1"}, Args{"stats"},
        Args{"--json", "stats"}, Args{"ping"}, Args{"shutdown"}, Args{"doctor"}}) {
    const CommandResult r =
        never_started.Taskq(args, args.size() > 1 && args[1] == "--batch" ? "cpu\n" : "");
    EXPECT_TRUE(FailsWith(r, 3, never_started.queue())) << args[0] << " " << args.back();
  }
}

TEST(CliNoDaemon, AnotherQueueThanTheRunningOne) {
  Daemon daemon(Settings("pool"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  EXPECT_EQ(daemon.Taskq({"ping"}).exit_code, 0);
  EXPECT_EQ(daemon.Taskq({"--queue", daemon.queue(), "ping"}).exit_code, 0);
  const std::string unused = UniqueQueueName();
  EXPECT_TRUE(FailsWith(daemon.Taskq({"--queue", unused, "ping"}), 3, unused));
  EXPECT_TRUE(FailsWith(daemon.Taskq({"--queue", unused, "submit", "cpu"}), 3, unused));
}

TEST(CliBadInput, EveryCommandExits2WithOneLine) {
  Daemon daemon(Settings("pool"));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t id = Submit(daemon, {"cpu", "--count", "10"});
  ASSERT_NE(id, 0u);
  const struct {
    Args args;
    std::string needle;
  } cases[] = {
      {{}, "subcommand"},
      {{"bogus"}, "bogus"},
      {{"submit"}, "kind"},
      {{"submit", "bogus"}, "bogus"},
      {{"submit", "cpu", "--count"}, "--count"},
      {{"submit", "cpu", "--count", "-5"}, "--count"},
      {{"submit", "cpu", "--count", "abc"}, "--count"},
      {{"submit", "cpu", "--count", "12x"}, "--count"},
      {{"submit", "cpu", "--seed", "abc"}, "--seed"},
      {{"submit", "cpu", "--timeout", "-1"}, "--timeout"},
      {{"submit", "cpu", "--timeout", "soon"}, "--timeout"},
      {{"submit", "cpu", "--retries", "-1"}, "--retries"},
      {{"submit", "cpu", "--retries", "1000"}, "--retries"},
      {{"submit", "cpu", "--nope"}, "--nope"},
      {{"submit", "io", "--bytes", "-1"}, "--bytes"},
      {{"submit", "io", "--block", "0"}, "--block"},
      {{"submit", "exec"}, "no command"},
      {{"submit", "exec", "--"}, "no command"},
      {{"submit", "exec", "--env", "=x", "--", "/bin/true"}, "--env"},
      {{"submit", "--batch"}, "--batch"},
      {{"status"}, "id"},
      {{"status", "abc"}, "abc"},
      {{"status", "-1"}, "-1"},
      {{"status", "0"}, "0"},
      {{"status", "999999"}, "999999"},
      {{"status", "1", "2"}, "2"},
      {{"wait"}, "--all"},
      {{"wait", "abc"}, "abc"},
      {{"wait", "-3"}, "-3"},
      {{"wait", "999999"}, "999999"},
      {{"wait", "--timeout", "-1", std::to_string(id)}, "--timeout"},
      {{"wait", "--timeout", "x", std::to_string(id)}, "--timeout"},
      {{"list", "--state", "bogus"}, "bogus"},
      {{"list", "--state"}, "--state"},
      {{"list", "--limit", "-1"}, "--limit"},
      {{"cancel"}, "ids"},
      {{"cancel", "abc"}, "abc"},
      {{"cancel", "-2"}, "-2"},
      {{"cancel", "999999"}, "999999"},
      {{"logs"}, "id"},
      {{"logs", "x"}, "x"},
      {{"logs", "999999"}, "999999"},
      {{"logs", std::to_string(id)}, "exec"},
      {{"ping", "--timeout", "abc"}, "--timeout"},
      {{"stats", "extra"}, "extra"},
      {{"--queue", "bad/name", "stats"}, "bad/name"},
      {{"--bogus", "stats"}, "--bogus"},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += " " + a;
    EXPECT_TRUE(FailsWith(daemon.Taskq(c.args), 2, c.needle)) << "taskq" << joined;
  }
  // A configuration that does not exist or does not parse is bad input too.
  const std::string broken = daemon.dir() + "/broken.yaml";
  std::ofstream(broken) << "capacity: [\n";
  for (const std::string& config : {std::string("/nonexistent/taskq.yaml"), broken}) {
    EXPECT_TRUE(FailsWith(RunCommand({TaskqPath(), "--config", config, "stats"}), 2, config));
  }
  // None of that reached the queue, and the daemon is fine.
  EXPECT_EQ(JsonOf(daemon, {"list"}).size(), 1u);
  EXPECT_EQ(daemon.Taskq({"ping"}).exit_code, 0);
}

}  // namespace
}  // namespace taskq::testing
