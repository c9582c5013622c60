// Shared plumbing of the `taskq` commands: global flags, connecting, printing, exit codes.
// Each command is one function in a cmd_*.cc file; main.cc only wires them to CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/submit_args.h"
#include "client/task_filter.h"
#include "common/status.h"
#include "common/task.h"
#include "nlohmann/json.hpp"

namespace taskq::cli {

struct GlobalArgs {
  std::string queue;
  std::string config;
  bool json = false;
  bool jsonl = false;  // --jsonl: JSON too, one object per line as each result comes
};

// The JSON rule (README "JSON output"): one object for one result, an array for several (and for
// a list, however long), and with --jsonl one object per line, printed as each result comes.
class JsonResults {
 public:
  // `is_list`: an array even for one result (list, group list).
  JsonResults(const GlobalArgs& global, bool is_list) : lines_(global.jsonl), list_(is_list) {}
  void Add(nlohmann::json item);
  // Prints what was collected (a no-op with --jsonl: each line went out in Add).
  void Finish();

 private:
  bool lines_;
  bool list_;
  nlohmann::json items_ = nlohmann::json::array();
};

// Prints "taskq: <message>" on stderr and returns the status's exit code.
int Report(const Status& status);
// Connects or reports; returns nullptr after printing the error (exit code in *code).
std::unique_ptr<Client> ConnectOrReport(const GlobalArgs& global, int* code);

// Human output.
std::string FormatDuration(uint64_t us);
std::string DescribeSpec(const TaskInfo& info);
void PrintTaskBlock(const TaskInfo& info);    // status ID
void PrintTaskSummary(const TaskInfo& info);  // one line: "task 5 succeeded in 1.2 ms ..."
// `taskq list`: one row per task; times in local time (or UTC), the zone in the header.
void PrintTaskTable(const std::vector<TaskInfo>& tasks, bool utc);
// Tasks by the JSON rule: an array when `as_array` or more than one (lines with --jsonl).
void PrintJson(const GlobalArgs& global, const std::vector<TaskInfo>& tasks, bool as_array);
// `taskq stats --json` (and each refresh of `top --json`).
nlohmann::json StatsJson(Client& client, const QueueStats& stats);

struct SubmitCommand {
  SubmitArgs args;
  bool wait = false;
  bool block = false;
  bool hold = false;  // every task submitted held (`taskq release` lets each run)
  bool sync = false;  // --sync: ids printed once the tasks are on stable storage
  std::string batch;
  std::vector<std::string> labels;  // --label K=V before the kind: on every task
  std::string unique;               // --unique KEY before the kind
  std::string array;                // --array FIRST-LAST[:STEP]
  std::string each_line;            // --each-line FILE
};
int RunSubmit(const GlobalArgs& global, SubmitCommand& command);

int RunStatus(const GlobalArgs& global, uint64_t id);
int RunWait(const GlobalArgs& global, const std::vector<uint64_t>& ids, bool all, double timeout_s,
            bool quiet, TaskFilter filter);
int RunList(const GlobalArgs& global, TaskFilter filter, int64_t limit, bool utc);
int RunCancel(const GlobalArgs& global, const std::vector<uint64_t>& ids, TaskFilter filter);
// `signal` empty: SIGTERM, then SIGKILL after kill_grace.
int RunKill(const GlobalArgs& global, const std::vector<uint64_t>& ids, const std::string& signal,
            TaskFilter filter);
// `taskq hold` (held) and `taskq release` (!held).
int RunHold(const GlobalArgs& global, const std::vector<uint64_t>& ids, bool held);
// `taskq restart`: finished tasks run again as new attempts of the same ids.
int RunRestart(const GlobalArgs& global, const std::vector<uint64_t>& ids, TaskFilter filter);
int RunPause(const GlobalArgs& global, const std::vector<uint64_t>& ids, bool paused);
int RunLogs(const GlobalArgs& global, uint64_t id, bool stderr_log, uint32_t attempt);
// Live views (cmd_watch.cc).
int RunLogsFollow(const GlobalArgs& global, uint64_t id, bool stderr_log);
// A progress line on stderr for `wait` when it is a terminal; nullptr otherwise.
Client::WaitProgress MakeWaitProgress();
// iterations <= 0: until interrupted.
int RunTop(const GlobalArgs& global, double interval_s, int iterations);
int RunStats(const GlobalArgs& global);
// The Prometheus text of the queue on stdout, or into `output` (replaced atomically).
int RunMetrics(const GlobalArgs& global, const std::string& output);

// taskq group add|list|remove|pause|resume.
struct GroupCommand {
  std::string action;  // add | list | remove | pause | resume
  std::string name;
  std::string policy = "pool";
  uint32_t workers = 0;
  uint32_t max_parallel = 0;
};
int RunGroup(const GlobalArgs& global, const GroupCommand& command);
nlohmann::json GroupJson(const QueueStats::Group& group);
std::string DescribeGroupSettings(const GroupInfo& group);
int RunPing(const GlobalArgs& global, double timeout_s);
int RunShutdown(const GlobalArgs& global, bool no_wait, double timeout_s, bool purge);
int RunPurge(const GlobalArgs& global);
// taskq reload: the daemon re-reads its configuration (as SIGHUP does; for admins).
int RunReload(const GlobalArgs& global);
int RunDoctor(const GlobalArgs& global, bool repair);

// taskq bench, the policy lab (client/cmd_bench.cc; the lab itself is lab/, library taskq_lab).
struct BenchArgs;
CLI::App* AddBenchCommand(CLI::App* app, std::shared_ptr<BenchArgs>* args);
int RunBench(const GlobalArgs& global, BenchArgs& args);

}  // namespace taskq::cli
