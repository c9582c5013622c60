// Many tasks at once and selecting them (issue 16): `submit --array` and `--each-line` (one task
// per index or line, `{}` replaced, TASKQ_ARRAY_INDEX set, the array named by its first id),
// `--label K=V` with the filters of list, wait, kill and cancel, and `submit --unique KEY`
// (one task however many submit it at once). Under both local policies.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fault_util.h"

namespace taskq::testing {
namespace {

class Select : public ::testing::TestWithParam<std::string> {
 protected:
  const std::string& policy() const { return GetParam(); }
};

// The ids of `taskq --json list ARGS...` (one JSON array).
std::vector<uint64_t> ListedIds(Daemon& daemon, const Args& args) {
  Args all = {"--json", "list"};
  all.insert(all.end(), args.begin(), args.end());
  const CommandResult r = daemon.Taskq(all);
  std::vector<uint64_t> ids;
  const json tasks = ParseJson(r.out);
  if (!tasks.is_array()) {
    ADD_FAILURE() << Describe(r);
    return ids;
  }
  for (const json& task : tasks) ids.push_back(task["id"].get<uint64_t>());
  return ids;
}

// The ids `--json submit` printed: one {"id": N}, or an array of them (the JSON rule).
std::vector<uint64_t> PrintedIds(const std::string& out) {
  std::vector<uint64_t> ids;
  json j = ParseJson(out);
  if (j.is_object()) j = json::array({j});
  if (!j.is_array()) return ids;
  for (const json& one : j) {
    if (one.is_object() && one.contains("id")) ids.push_back(one["id"].get<uint64_t>());
  }
  return ids;
}

// An array of 1,000 lands as 1,000 tasks, selectable by its first id (held, so the test does not
// wait for 1,000 runs; `cancel --array` then ends them all).
TEST_P(Select, AnArrayOfAThousandLandsAsAThousandTasks) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult r =
      daemon.Taskq({"--json", "submit", "--hold", "--array", "1-1000", "exec", "--", "echo", "{}"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::vector<uint64_t> ids = PrintedIds(r.out);
  ASSERT_EQ(ids.size(), 1000u);
  const std::string first = std::to_string(ids.front());
  EXPECT_EQ(ListedIds(daemon, {"--array", first}).size(), 1000u);
  const json last = TaskOf(daemon, ids.back());
  EXPECT_EQ(last["array_id"], ids.front()) << last.dump();
  EXPECT_EQ(last["array_index"], 1000) << last.dump();
  EXPECT_EQ(last["spec"]["argv"], json::array({"echo", "1000"})) << last.dump();
  const CommandResult cancelled = daemon.Taskq({"cancel", "--array", first});
  ASSERT_EQ(cancelled.exit_code, 0) << Describe(cancelled);
  EXPECT_EQ(ListedIds(daemon, {"--array", first, "--state", "cancelled"}).size(), 1000u);
  EXPECT_EQ(daemon.Stop(), 0);
}

// {} and TASKQ_ARRAY_INDEX in the command; a step; `wait --array` waits for all and sums up.
TEST_P(Select, ArrayTasksSeeTheirIndex) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string out = daemon.dir() + "/out";
  const CommandResult r =
      daemon.Taskq({"--json", "submit", "--array", "0-9:3", "exec", "--", "/bin/sh", "-c",
                    "test \"$1\" = \"$TASKQ_ARRAY_INDEX\" && echo {} > \"$0\".{}", out, "{}"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::vector<uint64_t> ids = PrintedIds(r.out);
  ASSERT_EQ(ids.size(), 4u);  // 0, 3, 6, 9
  const CommandResult waited = daemon.Taskq({"wait", "--array", std::to_string(ids[0])});
  EXPECT_EQ(waited.exit_code, 0) << Describe(waited);
  EXPECT_NE(waited.out.find("4 succeeded, 0 failed"), std::string::npos) << waited.out;
  for (const char* index : {"0", "3", "6", "9"}) {
    std::ifstream in(out + "." + index);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, index);
  }
  EXPECT_EQ(daemon.Stop(), 0);
}

// One task per non-empty line, from a file or stdin; the line is {} and TASKQ_ARRAY_ITEM.
TEST_P(Select, EachLineRunsOneTaskPerLine) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string lines = daemon.dir() + "/lines";
  std::ofstream(lines) << "alpha\nbeta gamma\n\ndelta\n";
  const std::string out = daemon.dir() + "/out";
  CommandResult r = daemon.Taskq({"--json", "submit", "--each-line", lines, "exec", "--", "/bin/sh",
                                  "-c", "echo \"$TASKQ_ARRAY_ITEM\" >> \"$0\"", out});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<uint64_t> ids = PrintedIds(r.out);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(TaskOf(daemon, ids[2])["array_index"], 3);  // its line number from 0
  ASSERT_EQ(daemon.Taskq({"wait", "--array", std::to_string(ids[0])}).exit_code, 0);
  std::ifstream in(out);
  std::multiset<std::string> got;
  for (std::string line; std::getline(in, line);) got.insert(line);
  EXPECT_EQ(got, (std::multiset<std::string>{"alpha", "beta gamma", "delta"}));

  r = daemon.Taskq({"--json", "submit", "--each-line", "-", "exec", "--", "echo", "{}"},
                   "one\ntwo\n");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  ids = PrintedIds(r.out);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(TaskOf(daemon, ids[1])["spec"]["argv"], json::array({"echo", "two"}));
  EXPECT_EQ(daemon.Stop(), 0);
}

// Labels on submit (before or after the kind, and on batch lines) and every filter.
TEST_P(Select, LabelsAndFiltersSelectTasks) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const uint64_t build = SubmitTask(
      daemon, {"--label", "team=web", "exec", "--label", "step=build", "--", "/bin/true"});
  const uint64_t test =
      SubmitTask(daemon, {"exec", "--label", "team=web", "--", "/bin/sh", "-c", "exit 3"});
  const CommandResult batch = daemon.Taskq(
      {"--json", "submit", "--batch", "-"},
      "exec --label team=db --label step=load -- sleep 300\nexec --label team=db -- sleep 300\n");
  ASSERT_EQ(batch.exit_code, 0) << Describe(batch);
  const std::vector<uint64_t> db = PrintedIds(batch.out);
  ASSERT_EQ(db.size(), 2u);
  ASSERT_TRUE(ReachesState(daemon, build, "succeeded"));
  ASSERT_TRUE(ReachesState(daemon, test, "failed"));
  EXPECT_EQ(TaskOf(daemon, build)["labels"], (json{{"team", "web"}, {"step", "build"}}));

  EXPECT_EQ(ListedIds(daemon, {"--label", "team=web"}), (std::vector<uint64_t>{build, test}));
  EXPECT_EQ(ListedIds(daemon, {"--label", "team=web", "--label", "step=build"}),
            (std::vector<uint64_t>{build}));
  EXPECT_EQ(ListedIds(daemon, {"--failed"}), (std::vector<uint64_t>{test}));
  EXPECT_EQ(ListedIds(daemon, {"--group", "default", "--label", "team=db"}), db);
  EXPECT_EQ(ListedIds(daemon, {"--since", "1h"}).size(), 4u);
  EXPECT_TRUE(ListedIds(daemon, {"--since", "@" + std::to_string(time(nullptr) + 3600)}).empty());
  EXPECT_TRUE(ListedIds(daemon, {"--label", "team=none"}).empty());

  // kill selects running tasks, cancel queued ones, wait any.
  ASSERT_TRUE(WaitUntil([&] { return StateOf(daemon, db[1]) == "running"; }));
  const CommandResult killed = daemon.Taskq({"kill", "--label", "team=db"});
  EXPECT_EQ(killed.exit_code, 0) << Describe(killed);
  EXPECT_TRUE(ReachesState(daemon, db[0], "cancelled"));
  EXPECT_TRUE(ReachesState(daemon, db[1], "cancelled"));
  const CommandResult waited = daemon.Taskq({"wait", "--label", "team=web"});
  EXPECT_EQ(waited.exit_code, 1) << Describe(waited);  // one of them failed
  EXPECT_NE(waited.out.find("1 succeeded, 1 failed"), std::string::npos) << waited.out;
  // restart by state and label: only the failed one of team=web runs again.
  const CommandResult restarted =
      daemon.Taskq({"restart", "--state", "failed", "--label", "team=web"});
  EXPECT_EQ(restarted.out, "task " + std::to_string(test) + " restarted\n") << Describe(restarted);
  ASSERT_TRUE(WaitUntil([&] { return TaskOf(daemon, test).value("attempts", 0) == 2; }));
  EXPECT_TRUE(ReachesState(daemon, test, "failed"));
  EXPECT_EQ(TaskOf(daemon, build)["attempts"], 1);

  for (const Args& bad : std::vector<Args>{{"list", "--label", "nokey"},
                                           {"list", "--since", "yesterday"},
                                           {"kill"},
                                           {"cancel"},
                                           {"wait", "--all", "--label", "a=b"}}) {
    const CommandResult r = daemon.Taskq(bad);
    EXPECT_EQ(r.exit_code, 2) << Describe(r);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(daemon.Stop(), 0);
}

// Four submitters race with the same --unique key: one task, and every one of them prints its id.
TEST_P(Select, UniqueUnderFourConcurrentSubmittersGivesOneTask) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  std::vector<CommandResult> results(4);
  std::vector<std::thread> submitters;
  for (size_t i = 0; i < results.size(); ++i) {
    submitters.emplace_back([&, i] {
      results[i] = daemon.Taskq(
          {"--json", "submit", "--unique", "nightly", "exec", "--", "/bin/sleep", "300"});
    });
  }
  for (std::thread& t : submitters) t.join();
  std::set<uint64_t> ids;
  int existing = 0;
  for (const CommandResult& r : results) {
    ASSERT_EQ(r.exit_code, 0) << Describe(r);
    const json j = ParseJson(r.out);
    ids.insert(j["id"].get<uint64_t>());
    existing += j.value("existing", false) ? 1 : 0;
  }
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(existing, 3);
  const uint64_t id = *ids.begin();
  EXPECT_EQ(ListedIds(daemon, {"--label", "unique=nightly"}), (std::vector<uint64_t>{id}));
  EXPECT_EQ(TaskOf(daemon, id)["unique"], "nightly");

  // Text output prints the id too; once the task ended, the key is free again.
  const CommandResult again =
      daemon.Taskq({"submit", "--unique", "nightly", "exec", "--", "/bin/true"});
  EXPECT_EQ(again.out, std::to_string(id) + "\n") << Describe(again);
  ASSERT_EQ(daemon.Taskq({"kill", std::to_string(id)}).exit_code, 0);
  ASSERT_TRUE(ReachesState(daemon, id, "cancelled"));
  const uint64_t next = SubmitTask(daemon, {"--unique", "nightly", "exec", "--", "/bin/true"});
  EXPECT_GT(next, id);
  EXPECT_TRUE(ReachesState(daemon, next, "succeeded"));
  EXPECT_EQ(daemon.Stop(), 0);
}

// A filter's cancel races the runners: a task it listed as queued may be claimed (or even end)
// before its turn comes. That task is skipped with a line saying so, not reported as an error;
// every other one is cancelled, and each of the 200 ends one way or the other.
TEST_P(Select, AFilteredCancelSkipsWhatRunnersTookMeanwhile) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const CommandResult submitted = daemon.Taskq(
      {"--json", "submit", "--label", "race=1", "--array", "1-200", "exec", "--", "/bin/true"});
  ASSERT_EQ(submitted.exit_code, 0) << Describe(submitted);
  const std::vector<uint64_t> ids = PrintedIds(submitted.out);
  ASSERT_EQ(ids.size(), 200u);
  const CommandResult cancel = daemon.Taskq({"cancel", "--label", "race=1"});
  EXPECT_EQ(cancel.exit_code, 0) << Describe(cancel);
  EXPECT_EQ(cancel.err, "");
  std::istringstream lines(cancel.out);
  for (std::string line; std::getline(lines, line);) {
    const bool cancelled =
        line.size() > 10 && line.compare(line.size() - 10, 10, " cancelled") == 0;
    const bool skipped = line.find(" skipped: ") != std::string::npos &&
                         line.compare(line.size() - 10, 10, " meanwhile") == 0;
    EXPECT_TRUE(line.rfind("task ", 0) == 0 && (cancelled || skipped)) << line;
  }
  std::vector<std::string> args = {"wait", "--quiet"};
  for (uint64_t id : ids) args.push_back(std::to_string(id));
  const int waited = daemon.Taskq(args).exit_code;
  EXPECT_TRUE(waited == 0 || waited == 1) << waited;  // all ran, or some were cancelled
  const size_t ended = ListedIds(daemon, {"--label", "race=1", "--state", "succeeded"}).size() +
                       ListedIds(daemon, {"--label", "race=1", "--state", "cancelled"}).size();
  EXPECT_EQ(ended, 200u);
  EXPECT_EQ(daemon.Stop(), 0);
}

// The same, made certain: the client stops after its selection (TASKQ_TEST_SELECT_GATE) while
// the test ends the chosen task. `kill --label` then reports it skipped in its current state
// (text and JSON), exit 0; `cancel --label` likewise for a task cancelled by id meanwhile.
TEST_P(Select, AChosenTaskThatChangedBeforeItsTurnIsReportedSkipped) {
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string finish = daemon.dir() + "/finish", gate = daemon.dir() + "/gate";
  const uint64_t running =
      SubmitTask(daemon, {"--label", "skip=kill", "exec", "--", "/bin/sh", "-c",
                          "while [ ! -e \"$0\" ]; do sleep 0.05; done", finish});
  ASSERT_TRUE(ReachesState(daemon, running, "running"));
  auto gated = [&](const std::string& json, std::vector<std::string> args) {
    std::vector<std::string> argv = {TaskqPath(), "--config", daemon.config_path()};
    if (!json.empty()) argv.push_back(json);
    argv.insert(argv.end(), args.begin(), args.end());
    return std::async(std::launch::async, [argv, gate] {
      return RunCommand(argv, "", {{"TASKQ_TEST_SELECT_GATE", gate}});
    });
  };
  auto at_gate = [&] { return std::filesystem::exists(gate + ".reached"); };

  auto kill = gated("--json", {"kill", "--label", "skip=kill"});
  ASSERT_TRUE(WaitUntil(at_gate));
  std::ofstream(finish).put('\n');
  ASSERT_TRUE(ReachesState(daemon, running, "succeeded"));
  std::ofstream(gate).put('\n');
  const CommandResult killed = kill.get();
  EXPECT_EQ(killed.exit_code, 0) << Describe(killed);
  EXPECT_EQ(killed.err, "");
  json out = ParseJson(killed.out);
  if (out.is_array() && out.size() == 1) out = out[0];
  EXPECT_EQ(out, (json{{"id", running}, {"skipped", "succeeded"}})) << killed.out;

  std::filesystem::remove(gate);
  std::filesystem::remove(gate + ".reached");
  const uint64_t queued =
      SubmitTask(daemon, {"--label", "skip=cancel", "--hold", "exec", "--", "/bin/true"});
  auto cancel = gated("", {"cancel", "--label", "skip=cancel"});
  ASSERT_TRUE(WaitUntil(at_gate));
  ASSERT_EQ(daemon.Taskq({"cancel", std::to_string(queued)}).exit_code, 0);
  std::ofstream(gate).put('\n');
  const CommandResult cancelled = cancel.get();
  EXPECT_EQ(cancelled.exit_code, 0) << Describe(cancelled);
  EXPECT_EQ(cancelled.out, "task " + std::to_string(queued) + " skipped: cancelled meanwhile\n");
  EXPECT_EQ(cancelled.err, "");
  EXPECT_EQ(daemon.Stop(), 0);
}

// README's "Steering tasks" block, verbatim, run by bash (set -e) with taskq on PATH, in a
// directory holding the scripts it names.
TEST_P(Select, ReadmeSteeringBlockRuns) {
  const std::string block = ReadmeBlock("### Steering tasks");
  ASSERT_FALSE(block.empty());
  Daemon daemon(FaultSettings(policy()));
  ASSERT_TRUE(daemon.Start()) << daemon.log();
  const std::string dir = daemon.dir() + "/work";
  std::filesystem::create_directories(dir);
  for (const auto& [name, body] :
       std::vector<std::pair<std::string, std::string>>{{"render.sh", "exec sleep 300\n"},
                                                        {"backup.sh", "exit 0\n"},
                                                        {"flaky.sh", "exit 0\n"},
                                                        {"check.sh", "test -n \"$1\"\n"}}) {
    std::ofstream(dir + "/" + name) << "#!/bin/sh\n" << body;
    std::filesystem::permissions(dir + "/" + name, std::filesystem::perms::owner_all);
  }
  std::ofstream(dir + "/hosts.txt") << "alpha\nbeta\n";
  const CommandResult r = RunShellBlock(block, dir, daemon.config_path());
  ASSERT_EQ(r.exit_code, 0) << Describe(r) << "\n" << block;
  EXPECT_TRUE(ListedIds(daemon, {"--label", "team=web", "--state", "queued"}).empty());
  // The kill sent SIGTERM; the runners record the ends a moment later.
  EXPECT_TRUE(WaitUntil([&] {
    return ListedIds(daemon, {"--label", "team=web", "--state", "running"}).empty();
  }));
  EXPECT_EQ(ListedIds(daemon, {"--label", "team=ops", "--state", "succeeded"}).size(), 2u);
  EXPECT_EQ(ListedIds(daemon, {"--label", "unique=nightly"}).size(), 1u);
  EXPECT_EQ(daemon.Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, Select, ::testing::Values("pool", "process"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace taskq::testing
