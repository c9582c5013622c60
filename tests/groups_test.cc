// Groups, priorities, dependencies and delays (issue 7) against a real taskqd: groups with their
// own policy side by side, `taskq group add|list|pause|resume|remove`, config groups and reload,
// priority order within a group, `--after` chains (and their failure), `--delay` / `--at`.
// No test waits for a fixed time: order is checked from the recorded timestamps, and a paused
// group is how tasks are held back while a test lines them up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "tests/test_util.h"

namespace taskq::testing {
namespace {

using nlohmann::json;
using Args = std::vector<std::string>;

constexpr const char* kBase = "workers: 1\nshutdown_grace: 2s\nkill_grace: 1s\n";

// `taskq --json args...`: expects exit `code` and returns stdout parsed (null when not JSON).
json JsonOf(Daemon& daemon, Args args, int code = 0) {
  args.insert(args.begin(), "--json");
  CommandResult r = daemon.Taskq(args);
  EXPECT_EQ(r.exit_code, code) << Describe(r);
  return json::parse(r.out, nullptr, false);
}

uint64_t Submit(Daemon& daemon, const Args& args) {
  Args full = {"submit"};
  full.insert(full.end(), args.begin(), args.end());
  CommandResult r = daemon.Taskq(full);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  return r.out.empty() ? 0 : std::stoull(r.out);
}

json Status(Daemon& daemon, uint64_t id) { return JsonOf(daemon, {"status", std::to_string(id)}); }

json GroupNamed(Daemon& daemon, const std::string& name) {
  json list = JsonOf(daemon, {"group", "list"});
  for (const json& g : list) {
    if (g["name"] == name) return g;
  }
  return nullptr;
}

bool OneLineError(const CommandResult& r, int code, const std::string& needle) {
  return r.exit_code == code && std::count(r.err.begin(), r.err.end(), '\n') == 1 &&
         r.err.find(needle) != std::string::npos;
}

TEST(Groups, AddListPauseResumeRemove) {
  Daemon daemon(kBase);
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  json list = JsonOf(daemon, {"group", "list"});
  ASSERT_EQ(list.size(), 1u) << list;
  EXPECT_EQ(list[0]["name"], "default");

  ASSERT_EQ(
      daemon.Taskq({"group", "add", "io", "--policy", "process", "--max-parallel", "2"}).exit_code,
      0);
  json io = GroupNamed(daemon, "io");
  ASSERT_FALSE(io.is_null());
  EXPECT_EQ(io["policy"], "process");
  EXPECT_EQ(io["max_parallel"], 2);
  EXPECT_EQ(io["paused"], false);

  // Bad input: an existing name, a bad name, an unknown policy, an unknown group on submit.
  EXPECT_TRUE(OneLineError(daemon.Taskq({"group", "add", "io"}), 2, "exists"));
  EXPECT_TRUE(OneLineError(daemon.Taskq({"group", "add", "no/slash"}), 2, "group name"));
  EXPECT_EQ(daemon.Taskq({"group", "add", "x", "--policy", "threads"}).exit_code, 2);
  EXPECT_TRUE(OneLineError(daemon.Taskq({"submit", "cpu", "--group", "nosuch"}), 2, "nosuch"));
  EXPECT_TRUE(OneLineError(daemon.Taskq({"group", "remove", "default"}), 2, "default"));

  // A task in the group runs there, under its policy.
  json done = JsonOf(daemon, {"submit", "exec", "--group", "io", "--wait", "--", "/bin/true"});
  EXPECT_EQ(done["state"], "succeeded") << done;
  EXPECT_EQ(done["group"], "io") << done;

  // Paused: its tasks wait while other groups go on; resumed: they run.
  ASSERT_EQ(daemon.Taskq({"group", "pause", "io"}).exit_code, 0);
  EXPECT_EQ(GroupNamed(daemon, "io")["paused"], true);
  const uint64_t held = Submit(daemon, {"cpu", "--count", "10", "--group", "io"});
  json other = JsonOf(daemon, {"submit", "cpu", "--count", "10", "--wait"});
  EXPECT_EQ(other["state"], "succeeded");
  EXPECT_EQ(Status(daemon, held)["state"], "queued");
  // A group with queued tasks is not removed.
  EXPECT_TRUE(OneLineError(daemon.Taskq({"group", "remove", "io"}), 1, "queued or running"));
  ASSERT_EQ(daemon.Taskq({"group", "resume", "io"}).exit_code, 0);
  EXPECT_EQ(daemon.Taskq({"wait", std::to_string(held)}).exit_code, 0);

  ASSERT_EQ(daemon.Taskq({"group", "remove", "io"}).exit_code, 0);
  EXPECT_TRUE(GroupNamed(daemon, "io").is_null());
  EXPECT_TRUE(OneLineError(daemon.Taskq({"submit", "cpu", "--group", "io"}), 2, "no group"));
  EXPECT_TRUE(WaitUntil([&] { return daemon.CountInLog("group 'io' removed") == 1; }))
      << daemon.log();
}

// The point of groups: CPU-bound work on a prespawned pool, I/O-bound work on per-task
// processes, in one daemon. Pool tasks share their workers' pids; process tasks each get one.
TEST(Groups, ConfigGroupsRunSideBySideWithTheirOwnPolicies) {
  Daemon daemon(std::string(kBase) +
                "groups:\n  cpu:\n    policy: pool\n    workers: 2\n"
                "  io:\n    policy: process\n    max_parallel: 4\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::string batch;
  for (int i = 0; i < 6; ++i) batch += "cpu --count 1000 --group cpu\nio --bytes 64 --group io\n";
  CommandResult submitted = daemon.Taskq({"submit", "--batch", "-", "--wait", "--json"}, batch);
  ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted);
  json tasks = json::parse(submitted.out);
  ASSERT_EQ(tasks.size(), 12u);
  std::set<int> cpu_pids, io_pids;
  for (const json& t : tasks) {
    EXPECT_EQ(t["state"], "succeeded") << t;
    (t["group"] == "cpu" ? cpu_pids : io_pids).insert(t["pid"].get<int>());
    EXPECT_EQ(t["group"], t["kind"] == "cpu" ? "cpu" : "io") << t;
  }
  EXPECT_LE(cpu_pids.size(), 2u) << "pool tasks run in the group's 2 workers";
  EXPECT_EQ(io_pids.size(), 6u) << "process tasks each run in a fresh process";
  EXPECT_TRUE(std::none_of(io_pids.begin(), io_pids.end(),
                           [&](int pid) { return cpu_pids.count(pid) != 0; }));

  json stats = JsonOf(daemon, {"stats"});
  ASSERT_EQ(stats["groups"].size(), 3u) << stats;
  for (const json& g : stats["groups"]) {
    if (g["name"] == "cpu") {
      EXPECT_EQ(g["finished"], 6) << g;
    }
    if (g["name"] == "io") {
      EXPECT_EQ(g["policy"], "process") << g;
    }
    if (g["name"] != "default") {
      EXPECT_EQ(g["from_config"], true) << g;
    }
  }

  // `top` shows the queue per group.
  CommandResult top = daemon.Taskq({"top", "-n", "1"});
  EXPECT_EQ(top.exit_code, 0) << Describe(top);
  EXPECT_NE(top.out.find("GROUP"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("process, max_parallel 4"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("pool, 2 workers"), std::string::npos) << top.out;

  // Reload: a new group appears, a dropped one goes, a changed one changes.
  daemon.WriteConfig(std::string(kBase) +
                     "groups:\n  cpu:\n    policy: process\n  batch:\n    workers: 1\n");
  ASSERT_TRUE(daemon.Signal(SIGHUP));
  ASSERT_TRUE(daemon.WaitForLog("configuration reloaded")) << daemon.log();
  EXPECT_TRUE(GroupNamed(daemon, "io").is_null());
  EXPECT_EQ(GroupNamed(daemon, "cpu")["policy"], "process");
  EXPECT_FALSE(GroupNamed(daemon, "batch").is_null());
  json batch_task =
      JsonOf(daemon, {"submit", "cpu", "--count", "10", "--group", "batch", "--wait"});
  EXPECT_EQ(batch_task["state"], "succeeded") << batch_task;
}

TEST(Groups, BadGroupConfigurationNamesTheLine) {
  TempDir dir;
  const std::string path = dir.path() + "/bad.yaml";
  const std::vector<std::pair<std::string, int>> cases = {
      {"groups:\n  default:\n    workers: 2\n", 2},
      {"groups:\n  io:\n    policy: threads\n", 3},
      {"groups:\n  io:\n    cores: 2\n", 3},
      {"groups:\n  'a b':\n    workers: 1\n", 2}};
  for (const auto& [yaml, line] : cases) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
    CommandResult r = RunCommand({TaskqdPath(), "--check-config", path});
    EXPECT_EQ(r.exit_code, 2) << yaml << Describe(r);
    EXPECT_NE(r.err.find(path + ":" + std::to_string(line) + ":"), std::string::npos)
        << yaml << Describe(r);
    EXPECT_NE(r.err.find("groups."), std::string::npos) << yaml << Describe(r);
  }
}

// One worker, its group paused while the tasks are lined up: on resume they start by priority,
// oldest first within a priority.
TEST(Priorities, HigherFirstFifoWithin) {
  Daemon daemon(kBase);
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_EQ(daemon.Taskq({"group", "pause", "default"}).exit_code, 0);
  const std::vector<int> priorities = {1, 9, 5, 9, 1, 5, 0};
  std::vector<uint64_t> ids;
  for (int p : priorities) {
    ids.push_back(Submit(daemon, {"cpu", "--count", "10", "--priority", std::to_string(p)}));
  }
  EXPECT_EQ(Status(daemon, ids[1])["priority"], 9);
  EXPECT_EQ(Status(daemon, ids[0])["state"], "queued");
  ASSERT_EQ(daemon.Taskq({"group", "resume", "default"}).exit_code, 0);
  ASSERT_EQ(daemon.Taskq({"wait", "--all"}).exit_code, 0);
  std::vector<std::pair<uint64_t, uint64_t>> started;  // (started_at, id)
  for (uint64_t id : ids) started.emplace_back(Status(daemon, id)["started_at"], id);
  std::sort(started.begin(), started.end());
  std::vector<uint64_t> order;
  for (auto& [at, id] : started) order.push_back(id);
  EXPECT_EQ(order, (std::vector<uint64_t>{ids[1], ids[3], ids[2], ids[5], ids[0], ids[4], ids[6]}));

  EXPECT_EQ(daemon.Taskq({"submit", "cpu", "--priority", "10"}).exit_code, 2);
  EXPECT_EQ(daemon.Taskq({"submit", "cpu", "--priority", "-1"}).exit_code, 2);
}

TEST(Dependencies, RunAfterSuccessFailAfterFailure) {
  Daemon daemon("workers: 2\nshutdown_grace: 2s\nkill_grace: 1s\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  ASSERT_EQ(daemon.Taskq({"group", "pause", "default"}).exit_code, 0);
  const uint64_t first = Submit(daemon, {"cpu", "--count", "1000"});
  const uint64_t bad = Submit(daemon, {"exec", "--", "/bin/false"});
  // Submitted before their dependencies finish (the group is paused), listed first by priority:
  // they must still wait.
  const std::string both = std::to_string(first) + "," + std::to_string(first);
  const uint64_t after_ok =
      Submit(daemon, {"cpu", "--count", "10", "--priority", "9", "--after", both});
  const uint64_t after_bad = Submit(daemon, {"cpu", "--count", "10", "--priority", "9", "--after",
                                             std::to_string(first) + "," + std::to_string(bad)});
  const uint64_t chained =
      Submit(daemon, {"exec", "--after", std::to_string(after_bad), "--", "/bin/true"});
  ASSERT_EQ(daemon.Taskq({"group", "resume", "default"}).exit_code, 0);

  EXPECT_EQ(daemon.Taskq({"wait", std::to_string(after_ok)}).exit_code, 0);
  json ok = Status(daemon, after_ok);
  json dep = Status(daemon, first);
  EXPECT_GE(ok["started_at"].get<uint64_t>(), dep["finished_at"].get<uint64_t>());
  EXPECT_EQ(ok["after"], json::array({first, first}));

  EXPECT_EQ(daemon.Taskq({"wait", std::to_string(after_bad)}).exit_code, 1);
  json failed = Status(daemon, after_bad);
  EXPECT_EQ(failed["state"], "failed") << failed;
  EXPECT_NE(failed["reason"].get<std::string>().find("dependency " + std::to_string(bad) +
                                                     " ended failed"),
            std::string::npos)
      << failed;
  EXPECT_TRUE(failed["started_at"].is_null() || failed["pid"].is_null()) << failed;
  // The failure propagates down a chain.
  EXPECT_EQ(daemon.Taskq({"wait", std::to_string(chained)}).exit_code, 1);
  EXPECT_EQ(Status(daemon, chained)["state"], "failed");

  // Bad input: an unknown id, too many ids, not a number.
  EXPECT_TRUE(OneLineError(daemon.Taskq({"submit", "cpu", "--after", "999999"}), 2, "--after"));
  EXPECT_EQ(daemon.Taskq({"submit", "cpu", "--after", "1,2,3,4,5,6,7,8,9"}).exit_code, 2);
  EXPECT_EQ(daemon.Taskq({"submit", "cpu", "--after", "x"}).exit_code, 2);
}

TEST(Delays, DelayAndAtHoldTheStart) {
  Daemon daemon(kBase);
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t before_submit = NowUs();
  const uint64_t delayed = Submit(daemon, {"cpu", "--count", "10", "--delay", "1s"});
  const uint64_t at = (NowUs() / 1000000 + 2);
  // Appended, not `"@" + std::to_string(at)`: GCC 12 at -O3 reports a false -Werror=restrict in
  // the inlined insert of that operator+ (a known false positive of GCC 12's std::string).
  const uint64_t at_task =
      Submit(daemon, {"cpu", "--count", "10", "--at", std::string("@").append(std::to_string(at))});
  // A delayed task does not block the ones behind it.
  json quick = JsonOf(daemon, {"submit", "cpu", "--count", "10", "--wait"});
  EXPECT_EQ(quick["state"], "succeeded");
  ASSERT_EQ(daemon.Taskq({"wait", std::to_string(delayed), std::to_string(at_task)}).exit_code, 0);
  json d = Status(daemon, delayed);
  // The delay counts from the submit command (its clock reading, not the later stamp of the
  // record under the lock), and the task never starts before it is over.
  EXPECT_GE(d["not_before"].get<uint64_t>(), before_submit + 1000000) << d;
  EXPECT_GE(d["started_at"].get<uint64_t>(), d["not_before"].get<uint64_t>()) << d;
  json a = Status(daemon, at_task);
  EXPECT_GE(a["started_at"].get<uint64_t>(), at * 1000000) << a;

  // A delayed task can be cancelled while it waits.
  const uint64_t later = Submit(daemon, {"cpu", "--delay", "1h"});
  EXPECT_EQ(daemon.Taskq({"cancel", std::to_string(later)}).exit_code, 0);
  EXPECT_EQ(Status(daemon, later)["state"], "cancelled");

  EXPECT_TRUE(OneLineError(daemon.Taskq({"submit", "cpu", "--delay", "soon"}), 2, "--delay"));
  EXPECT_TRUE(OneLineError(daemon.Taskq({"submit", "cpu", "--at", "25:00"}), 2, "--at"));
  EXPECT_TRUE(
      OneLineError(daemon.Taskq({"submit", "cpu", "--delay", "1s", "--at", "@1"}), 2, "not both"));
}

TEST(Groups, BatchLinesCarryGroupAndPriority) {
  Daemon daemon(std::string(kBase) + "groups:\n  side:\n    policy: process\n");
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  CommandResult r = daemon.Taskq({"submit", "--batch", "-", "--wait", "--json"},
                                 "cpu --count 5 --group side --priority 7\nio --group side\n");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json tasks = json::parse(r.out);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0]["group"], "side");
  EXPECT_EQ(tasks[0]["priority"], 7);
  EXPECT_EQ(tasks[1]["group"], "side");
  // An unknown group anywhere in a batch refuses the whole batch.
  CommandResult bad = daemon.Taskq({"submit", "--batch", "-"}, "cpu\ncpu --group nope\n");
  EXPECT_EQ(bad.exit_code, 2) << Describe(bad);
  EXPECT_TRUE(bad.out.empty()) << Describe(bad);
}

}  // namespace
}  // namespace taskq::testing
