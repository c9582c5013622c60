// taskq status, wait, list, cancel, kill, hold, release, logs: reading and steering individual
// tasks.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>

#include "client/cli.h"
#include "common/clock.h"
#include "common/kill_signal.h"
#include "common/spawn.h"
#include "fmt/format.h"

namespace taskq::cli {

int RunStatus(const GlobalArgs& global, uint64_t id) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  TaskInfo info;
  Status found = client->Get(id, &info);
  if (!found.ok()) return Report(found);
  if (global.json) {
    PrintJson(global, {info}, false);
  } else {
    PrintTaskBlock(info);
  }
  return 0;
}

namespace {

// `wait --all` waits for what is unfinished when it starts, then for every task submitted
// since (finished or not by then), until a look finds nothing new: a batch still landing is
// waited for whole. `watermark` is the queue's next id when the wait began. `wait_for` waits
// for a list of ids (bounded by the time left) and keeps what it learns.
Status WaitForAll(Client& client, std::vector<uint64_t>* ids, uint64_t watermark,
                  int64_t timeout_ms,
                  const std::function<Status(const std::vector<uint64_t>&, int64_t)>& wait_for) {
  const uint64_t start = MonotonicUs();
  std::set<uint64_t> seen(ids->begin(), ids->end());
  std::vector<uint64_t> batch = *ids;
  for (;;) {
    int64_t left = -1;
    if (timeout_ms >= 0) {
      const int64_t spent = static_cast<int64_t>((MonotonicUs() - start) / 1000);
      left = std::max<int64_t>(0, timeout_ms - spent);
    }
    TASKQ_RETURN_IF_ERROR(wait_for(batch, left));
    batch.clear();
    for (uint64_t id : client.SubmittedSince(&watermark)) {
      if (seen.insert(id).second) batch.push_back(id);
    }
    if (batch.empty()) return Status::Ok();
    ids->insert(ids->end(), batch.begin(), batch.end());
  }
}

// "3371 succeeded, 0 failed in 3.0 s" (other ends named only when there are some).
std::string WaitSummary(const std::vector<TaskInfo>& tasks, uint64_t elapsed_us) {
  uint64_t by_state[kTaskStateCount] = {};
  for (const TaskInfo& info : tasks) by_state[static_cast<uint32_t>(info.state)]++;
  std::string line =
      fmt::format("{} succeeded, {} failed", by_state[static_cast<uint32_t>(TaskState::kSucceeded)],
                  by_state[static_cast<uint32_t>(TaskState::kFailed)]);
  for (TaskState state : {TaskState::kTimedOut, TaskState::kCancelled, TaskState::kLost,
                          TaskState::kRunning, TaskState::kQueued}) {
    const uint64_t n = by_state[static_cast<uint32_t>(state)];
    if (n > 0) line += fmt::format(", {} {}", n, TaskStateName(state));
  }
  return line + " in " + FormatDuration(elapsed_us);
}

}  // namespace

int RunWait(const GlobalArgs& global, const std::vector<uint64_t>& given, bool all,
            double timeout_s, bool quiet, TaskFilter filter) {
  if (given.empty() && !all && filter.empty()) {
    return Report(
        Status::Invalid("wait: give task ids, --all or a filter (--label, --array, ...)"));
  }
  if (all && !filter.empty()) {
    return Report(
        Status::Invalid("wait: --all waits for every task; drop it to wait for a filter"));
  }
  if (Status bad = filter.Finish(NowUs()); !bad.ok()) return Report(bad);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  const uint64_t start = MonotonicUs();
  std::vector<uint64_t> ids = given;
  if (!filter.empty()) {
    AddSelected(*client, filter, nullptr, &ids);
    if (ids.empty()) return Report(Status::Invalid("wait: no task matches the filter"));
  }
  const uint64_t watermark = client->NextId();  // before the look: nothing falls in between
  if (all) {
    for (uint64_t id : client->Unfinished()) ids.push_back(id);
  }
  int64_t timeout_ms = timeout_s < 0 ? -1 : static_cast<int64_t>(timeout_s * 1000);
  if (quiet && !global.json) {
    // Only the exit code is wanted: wait on the states alone (no record is copied).
    std::vector<TaskState> states;
    auto wait_for = [&](const std::vector<uint64_t>& batch, int64_t left) {
      std::vector<TaskState> more;
      const Status waited = client->WaitStates(batch, left, &more);
      states.insert(states.end(), more.begin(), more.end());
      return waited;
    };
    const Status waited = all ? WaitForAll(*client, &ids, watermark, timeout_ms, wait_for)
                              : wait_for(ids, timeout_ms);
    if (!waited.ok()) return Report(waited);
    return std::all_of(states.begin(), states.end(),
                       [](TaskState s) { return s == TaskState::kSucceeded; })
               ? 0
               : 1;
  }
  std::vector<TaskInfo> tasks;
  // A progress line on a terminal for many tasks; scripts (no tty) get plain lines at the end.
  const auto progress = (!global.json && (ids.size() > 1 || all)) ? MakeWaitProgress() : nullptr;
  auto wait_for = [&](const std::vector<uint64_t>& batch, int64_t left) {
    std::vector<TaskInfo> more;
    const Status waited = client->Wait(batch, left, &more, progress);
    tasks.insert(tasks.end(), more.begin(), more.end());
    return waited;
  };
  Status waited =
      all ? WaitForAll(*client, &ids, watermark, timeout_ms, wait_for) : wait_for(ids, timeout_ms);
  if (waited.code() == StatusCode::kInvalid) return Report(waited);
  bool all_succeeded = true;
  for (const TaskInfo& info : tasks) all_succeeded &= info.state == TaskState::kSucceeded;
  if (global.json) {
    PrintJson(global, tasks, /*as_array=*/ids.size() != 1 || all || !filter.empty());
  } else {
    for (const TaskInfo& info : tasks) PrintTaskSummary(info);
    if (ids.size() > 1 || all || !filter.empty()) {
      std::printf("%s\n", WaitSummary(tasks, MonotonicUs() - start).c_str());
    }
  }
  if (!waited.ok()) return Report(waited);
  return all_succeeded ? 0 : 1;
}

int RunList(const GlobalArgs& global, TaskFilter filter, int64_t limit, bool utc) {
  // --state is the state as shown: `running` leaves paused runs out, `paused` has only them.
  if (Status bad = filter.Finish(NowUs()); !bad.ok()) return Report(bad);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  std::vector<TaskInfo> tasks;
  for (TaskInfo& info : client->List()) {
    if (filter.Matches(info)) tasks.push_back(std::move(info));
  }
  if (limit >= 0 && tasks.size() > static_cast<size_t>(limit)) {
    tasks.erase(tasks.begin(), tasks.end() - limit);  // keep the newest
  }
  if (global.json) {
    PrintJson(global, tasks, /*as_array=*/true);
  } else {
    PrintTaskTable(tasks, utc);
  }
  return 0;
}

namespace {

// What cancel, kill, restart, hold/release and pause/resume do to each task they were given.
struct PerTaskAction {
  std::function<Status(Client&, uint64_t)> act;
  std::function<std::string(uint64_t)> line;       // printed when it applied (without --json)
  std::function<nlohmann::json(uint64_t)> result;  // one JSON result when it applied
};

// Tasks a filter chose, and what made each one eligible (queued for cancel, running for kill):
// one that left that state between the listing and the request (a runner claimed it, it ended)
// is skipped, not an error. Ids given by number are never skipped.
struct FilterChoice {
  std::set<uint64_t> chosen;
  std::function<bool(const TaskInfo&)> eligible;
};

// The state (as `list` shows it) of a task the filter chose that is no longer eligible; null for
// a task given by number, or one still eligible (its failure is a real error).
const char* LeftTheChoiceAs(Client& client, const FilterChoice& choice, uint64_t id) {
  TaskInfo now;
  if (choice.chosen.count(id) == 0 || !client.Get(id, &now).ok() || choice.eligible(now)) {
    return nullptr;
  }
  return now.shown_state();
}

// Applies `action` to each of `ids`: one line (or one JSON result) per task it applied to or
// skipped, one error line per task it did not, in the order given. The exit code is the worst of
// them. `newest_first` acts on the highest id first (cancel: a dependency is always an earlier
// task, so its dependents are cancelled before its own cancel makes the daemon fail them, and
// `cancel A B` with B after A never loses that race).
int ActOnEach(const GlobalArgs& global, Client& client, const std::vector<uint64_t>& ids,
              const PerTaskAction& action, const FilterChoice& choice = {},
              bool newest_first = false) {
  std::vector<size_t> order(ids.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (newest_first) {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return ids[a] > ids[b]; });
  }
  std::vector<Status> done(ids.size(), Status::Ok());
  for (size_t i : order) done[i] = action.act(client, ids[i]);

  int worst = 0;
  JsonResults json(global, /*is_list=*/false);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint64_t id = ids[i];
    if (!done[i].ok()) {
      const char* left_as = LeftTheChoiceAs(client, choice, id);
      if (left_as == nullptr) {
        worst = std::max(worst, Report(done[i]));
      } else if (!global.json) {
        std::printf("task %llu skipped: %s meanwhile\n", static_cast<unsigned long long>(id),
                    left_as);
      } else {
        json.Add(nlohmann::json{{"id", id}, {"skipped", left_as}});
      }
    } else if (!global.json) {
      std::printf("%s\n", action.line(id).c_str());
    } else {
      json.Add(action.result(id));
    }
  }
  if (global.json) json.Finish();
  return worst;
}

// Tests only: with TASKQ_TEST_SELECT_GATE=PATH the command creates PATH.reached once it has
// chosen its tasks and goes on when PATH exists (at most a minute later), so a test can change
// a chosen task's state in between, as a runner or another user might.
void TEST_WaitAtSelectGate() {
  const char* gate = std::getenv("TASKQ_TEST_SELECT_GATE");
  if (gate == nullptr || *gate == '\0') return;
  std::ofstream(std::string(gate) + ".reached").put('\n');
  for (int i = 0; i < 1200 && ::access(gate, F_OK) != 0; ++i) ::usleep(50000);
}

// Adds the tasks `filter` selects that are `eligible` to `ids` (after the ones given by number).
FilterChoice Choose(Client& client, const TaskFilter& filter,
                    std::function<bool(const TaskInfo&)> eligible, std::vector<uint64_t>* ids) {
  FilterChoice choice;
  if (filter.empty()) return choice;
  const size_t given = ids->size();
  AddSelected(client, filter, eligible, ids);
  TEST_WaitAtSelectGate();
  choice.chosen.insert(ids->begin() + static_cast<ptrdiff_t>(given), ids->end());
  choice.eligible = std::move(eligible);
  return choice;
}

}  // namespace

int RunCancel(const GlobalArgs& global, const std::vector<uint64_t>& given, TaskFilter filter) {
  if (given.empty() && filter.empty()) {
    return Report(Status::Invalid("cancel: give task ids or a filter (--label, --array, ...)"));
  }
  if (Status bad = filter.Finish(NowUs()); !bad.ok()) return Report(bad);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  std::vector<uint64_t> ids = given;
  const FilterChoice choice = Choose(
      *client, filter, [](const TaskInfo& t) { return t.state == TaskState::kQueued; }, &ids);
  return ActOnEach(global, *client, ids,
                   {[](Client& c, uint64_t id) { return c.Cancel(id); },
                    [](uint64_t id) { return fmt::format("task {} cancelled", id); },
                    [](uint64_t id) {
                      return nlohmann::json{{"id", id}, {"state", "cancelled"}};
                    }},
                   choice, /*newest_first=*/true);
}

int RunKill(const GlobalArgs& global, const std::vector<uint64_t>& given, const std::string& signal,
            TaskFilter filter) {
  int number = 0;  // 0: the daemon's default (SIGTERM, then SIGKILL after kill_grace)
  if (!signal.empty()) {
    const Status parsed = ParseKillSignal(signal, &number);
    if (!parsed.ok()) return Report(parsed);
  }
  if (given.empty() && filter.empty()) {
    return Report(Status::Invalid("kill: give task ids or a filter (--label, --array, ...)"));
  }
  if (Status bad = filter.Finish(NowUs()); !bad.ok()) return Report(bad);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  std::vector<uint64_t> ids = given;
  const FilterChoice choice = Choose(
      *client, filter, [](const TaskInfo& t) { return t.state == TaskState::kRunning; }, &ids);
  const std::string sent = SignalName(number != 0 ? number : SIGTERM);
  return ActOnEach(global, *client, ids,
                   {[number](Client& c, uint64_t id) { return c.Kill(id, number); },
                    [&sent](uint64_t id) { return fmt::format("task {}: {} sent", id, sent); },
                    [&sent](uint64_t id) {
                      return nlohmann::json{{"id", id}, {"signal", sent}};
                    }},
                   choice);
}

int RunRestart(const GlobalArgs& global, const std::vector<uint64_t>& given, TaskFilter filter) {
  if (given.empty() && filter.empty()) {
    return Report(
        Status::Invalid("restart: give task ids or a filter (--failed, --group, --label, ...)"));
  }
  if (Status bad = filter.Finish(NowUs()); !bad.ok()) return Report(bad);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  std::vector<uint64_t> ids = given;
  const FilterChoice choice = Choose(
      *client, filter, [](const TaskInfo& t) { return IsFinished(t.state); }, &ids);
  return ActOnEach(global, *client, ids,
                   {[](Client& c, uint64_t id) { return c.Restart(id); },
                    [](uint64_t id) { return fmt::format("task {} restarted", id); },
                    [](uint64_t id) {
                      return nlohmann::json{{"id", id}, {"state", "queued"}};
                    }},
                   choice);
}

int RunHold(const GlobalArgs& global, const std::vector<uint64_t>& ids, bool held) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  return ActOnEach(
      global, *client, ids,
      {[held](Client& c, uint64_t id) { return c.SetHeld(id, held); },
       [held](uint64_t id) { return fmt::format("task {} {}", id, held ? "held" : "released"); },
       [held](uint64_t id) {
         return nlohmann::json{{"id", id}, {"held", held}};
       }});
}

int RunPause(const GlobalArgs& global, const std::vector<uint64_t>& ids, bool paused) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(global, &code);
  if (!client) return code;
  return ActOnEach(global, *client, ids,
                   {[paused](Client& c, uint64_t id) { return c.SetPaused(id, paused); },
                    [paused](uint64_t id) {
                      return fmt::format("task {} {}", id, paused ? "paused" : "resumed");
                    },
                    [paused](uint64_t id) {
                      return nlohmann::json{{"id", id}, {"paused", paused}};
                    }});
}

int RunLogs(const GlobalArgs& global, uint64_t id, bool stderr_log, uint32_t attempt) {
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
  if (info.record.attempts == 0) {
    if (attempt != 0) {
      return Report(Status::Invalid(fmt::format("--attempt: task {} has not run yet", id)));
    }
    return 0;  // nothing written yet (or ever)
  }
  if (attempt > info.record.attempts) {
    return Report(Status::Invalid(fmt::format("--attempt: task {} has run {} time(s); give 1..{}",
                                              id, info.record.attempts, info.record.attempts)));
  }
  int fd = -1;
  Status opened = client->OpenLog(id, stderr_log, &fd, attempt);
  if (!opened.ok()) return Report(opened);
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::cout.write(buffer, n);
  }
  ::close(fd);
  std::cout.flush();
  return 0;
}

}  // namespace taskq::cli
