// The live views: `logs --follow` (stream a running exec task's output), the progress line of
// `wait` on a terminal, and `top`. All of them read the segment and the log files directly: a
// watcher never costs the daemon anything.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include "client/cli.h"
#include "client/top_pilots.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/segment.h"
#include "common/worker_lifecycle.h"
#include "fmt/format.h"

namespace taskq::cli {
namespace {

constexpr auto kFollowPoll = std::chrono::milliseconds(100);

// Copies what `fd` has beyond what was read so far to stdout; returns false on a read error.
bool CopyNewBytes(int fd) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n == 0) return true;
    if (n < 0) return errno == EINTR;
    std::fwrite(buffer, 1, static_cast<size_t>(n), stdout);
  }
}

std::string FormatRate(double per_s) {
  return per_s >= 100 ? fmt::format("{:.0f}/s", per_s) : fmt::format("{:.1f}/s", per_s);
}

}  // namespace

int RunLogsFollow(const GlobalArgs& global, uint64_t id, bool stderr_log) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  TaskInfo info;
  Status found = client->Get(id, &info);
  if (!found.ok()) return Report(found);
  if (info.record.kind != static_cast<uint32_t>(TaskKind::kExec)) {
    return Report(
        Status::Invalid(fmt::format("task {} is a {} task: only exec tasks have output logs", id,
                                    TaskKindName(static_cast<TaskKind>(info.record.kind)))));
  }
  int fd = -1;
  // Follow until the task has finished and everything it wrote has been printed.
  for (;;) {
    if (!client->Get(id, &info).ok()) return Report(Status::Failed("task vanished (evicted?)"));
    const bool finished = IsFinished(info.state);
    if (fd < 0 && info.state != TaskState::kQueued && info.state != TaskState::kCancelled) {
      Status opened = client->OpenLog(id, stderr_log, &fd);
      if (!opened.ok() && opened.code() != StatusCode::kFailed) return Report(opened);
    }
    if (fd >= 0 && !CopyNewBytes(fd)) {
      close(fd);
      return Report(Status::Failed(fmt::format("cannot read the log of task {}", id)));
    }
    std::fflush(stdout);
    if (finished) break;
    std::this_thread::sleep_for(kFollowPoll);
  }
  if (fd >= 0) close(fd);
  return 0;
}

Client::WaitProgress MakeWaitProgress() {
  if (!isatty(STDERR_FILENO)) return nullptr;  // plain lines (or nothing) when not a terminal
  const auto started = std::chrono::steady_clock::now();
  return [started](const std::vector<TaskState>& tasks) {
    size_t done = 0, failed = 0, running = 0;
    for (const TaskState state : tasks) {
      if (IsFinished(state)) {
        ++done;
        failed += state != TaskState::kSucceeded;
      }
      running += state == TaskState::kRunning;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const size_t total = tasks.size();
    constexpr int kBarWidth = 30;
    const int filled = total == 0 ? kBarWidth : static_cast<int>(kBarWidth * done / total);
    const std::string eta =
        rate > 0 && done < total ? fmt::format("{:.0f}s", (total - done) / rate) : "-";
    std::fprintf(stderr, "\r[%s%s] %zu/%zu done, %zu failed, %zu running, %s, ETA %s   ",
                 std::string(filled, '#').c_str(), std::string(kBarWidth - filled, '.').c_str(),
                 done, total, failed, running, FormatRate(rate).c_str(), eta.c_str());
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

namespace {

// One refresh of `top --json`: what `stats --json` says, the pool's workers and the running
// tasks (the pid a user looks for: a pool worker's exec command has its own).
nlohmann::json TopJson(Client& client, const QueueStats& stats, uint64_t now_us) {
  nlohmann::json j = StatsJson(client, stats);
  nlohmann::json workers = nlohmann::json::array();
  const SegmentHeader* header = client.segment().header();
  for (uint32_t row = 0; row < kMaxWorkers; ++row) {
    const WorkerEntry& w = header->workers[row];
    const int32_t pid = w.pid.load(std::memory_order_relaxed);
    if (pid <= 0) continue;
    const uint32_t state = w.state.load(std::memory_order_relaxed);
    const uint64_t current = w.current_id.load(std::memory_order_relaxed);
    workers.push_back(
        {{"row", row},
         {"pid", pid},
         {"state",
          state < kWorkerStateCount ? WorkerStateName(static_cast<WorkerState>(state)) : "?"},
         {"task", current == 0 ? nlohmann::json() : nlohmann::json(current)},
         {"tasks_done", w.tasks_done.load(std::memory_order_relaxed)}});
  }
  j["worker_table"] = std::move(workers);
  nlohmann::json running = nlohmann::json::array();
  for (const TaskInfo& t : client.List()) {
    if (t.state != TaskState::kRunning) continue;
    const bool own_child = t.record.child_pid > 0 && (t.record.flags & kFlagBatchJob) == 0;
    running.push_back({{"id", t.id()},
                       {"kind", TaskKindName(static_cast<TaskKind>(t.record.kind))},
                       {"group", t.group},
                       {"pid", own_child ? t.record.child_pid : t.record.runner_pid},
                       {"run_us", t.run_us(now_us)},
                       {"state", t.shown_state()},
                       {"spec", DescribeSpec(t)}});
  }
  j["running"] = std::move(running);
  return j;
}

}  // namespace

int RunTop(const GlobalArgs& global, double interval_s, int iterations) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  const bool terminal = isatty(STDOUT_FILENO);
  for (int i = 0; iterations <= 0 || i < iterations; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
    const QueueStats stats = client->Stats();
    if (global.json) {
      // A stream: one object per refresh, one per line (--json and --jsonl alike).
      std::cout << JsonText(TopJson(*client, stats, NowUs())) << std::endl;
      continue;
    }
    std::string screen;
    if (terminal) screen += "\x1b[H\x1b[2J";  // home + clear
    screen += fmt::format("taskq top — queue {}  {}  policy {}  workers {}/{}  depth {}  {}\n",
                          client->options().queue,
                          stats.daemon_running ? fmt::format("pid {}", stats.daemon.pid)
                                               : std::string("daemon stopped"),
                          PolicyName(stats.daemon.policy), stats.daemon.workers,
                          stats.daemon.workers_wanted, stats.queue_depth,
                          FormatRate(stats.throughput_per_s));
    screen += "tasks:";
    for (uint32_t s = static_cast<uint32_t>(TaskState::kQueued); s < kTaskStateCount; ++s) {
      screen += fmt::format(" {} {}", TaskStateName(static_cast<TaskState>(s)), stats.by_state[s]);
    }
    screen +=
        fmt::format("\nsubmitted {}  finished {}\n\n", stats.submitted_total, stats.finished_total);
    // Queue depth per group.
    screen += fmt::format("{:<16} {:<28} {:>7} {:>8} {:>8} {:>9}\n", "GROUP", "POLICY", "STATE",
                          "QUEUED", "RUNNING", "FINISHED");
    for (const QueueStats::Group& group : stats.groups) {
      screen +=
          fmt::format("{:<16} {:<28} {:>7} {:>8} {:>8} {:>9}\n", group.info.name,
                      DescribeGroupSettings(group.info), group.info.paused ? "paused" : "active",
                      group.queued, group.running, group.finished);
    }
    screen += "\n";
    // Workers from the segment's worker table (pool), running tasks from the slot table.
    SegmentHeader* header = client->segment().header();
    screen +=
        fmt::format("{:>4} {:>8} {:>9} {:>10} {:>10}\n", "ROW", "PID", "STATE", "TASK", "DONE");
    for (uint32_t row = 0; row < kMaxWorkers; ++row) {
      const WorkerEntry& w = header->workers[row];
      const int32_t pid = w.pid.load(std::memory_order_relaxed);
      if (pid <= 0) continue;
      const uint32_t state = w.state.load(std::memory_order_relaxed);
      const uint64_t current = w.current_id.load(std::memory_order_relaxed);
      screen += fmt::format(
          "{:>4} {:>8} {:>9} {:>10} {:>10}\n", row, pid,
          state < kWorkerStateCount ? WorkerStateName(static_cast<WorkerState>(state)) : "?",
          current == 0 ? std::string("-") : std::to_string(current),
          w.tasks_done.load(std::memory_order_relaxed));
    }
    std::vector<GroupInfo> groups;
    for (const QueueStats::Group& group : stats.groups) groups.push_back(group.info);
    const std::string pilots = PilotsTable(client->state_dir(), groups);
    if (!pilots.empty()) screen += "\n" + pilots;
    screen += fmt::format("\n{:>8} {:<5} {:<12} {:>8} {:>10}  {}\n", "ID", "KIND", "GROUP", "PID",
                          "RUNNING", "WHAT");
    const uint64_t now_us =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    for (const TaskInfo& t : client->List()) {
      if (t.state != TaskState::kRunning) continue;
      // A pool worker's exec command has a pid of its own: that is the process users look for.
      const bool own_child = t.record.child_pid > 0 && (t.record.flags & kFlagBatchJob) == 0;
      screen += fmt::format("{:>8} {:<5} {:<12} {:>8} {:>10}  {}{}\n", t.id(),
                            TaskKindName(static_cast<TaskKind>(t.record.kind)), t.group,
                            own_child ? t.record.child_pid : t.record.runner_pid,
                            FormatDuration(t.run_us(now_us)), t.paused() ? "[paused] " : "",
                            DescribeSpec(t));
    }
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace taskq::cli
