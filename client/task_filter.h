// Filters that select tasks for list, wait, kill and cancel (issue 16): `--label K=V`
// (repeatable, all must match), `--state S`, `--group G`, `--since TIME|DURATION`, `--failed`
// (failed, timed_out or lost) and `--array ID` (the tasks of one `submit --array`/`--each-line`,
// named by its first id). A member (who maps the queue read-only) selects only its own tasks:
// the daemon would refuse the others anyway.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/status.h"
#include "common/task.h"

namespace taskq {

struct TaskFilter {
  std::vector<std::string> labels;
  std::string state;  // as shown: queued, running, paused, succeeded, ...
  std::string group;
  std::string since;  // as given; since_us once Finish() parsed it
  bool failed = false;
  uint64_t array = 0;
  uint64_t since_us = 0;
  uint32_t only_uid = 0;
  bool only_own = false;

  // True when no filter was given.
  bool empty() const;
  // Checks and parses what was given; fails naming the option and the fix.
  Status Finish(uint64_t now_us);
  bool Matches(const TaskInfo& info) const;
};

// Adds --label, --state, --group, --since, --failed and --array to `command`.
void AddFilterOptions(CLI::App* command, TaskFilter* filter);

// Appends to `ids` the tasks `filter` selects that `actionable` accepts (kill: running, cancel:
// queued, restart: finished; null: all), in id order and without the ids already there.
// Members select their own tasks only.
void AddSelected(Client& client, const TaskFilter& filter,
                 const std::function<bool(const TaskInfo&)>& actionable,
                 std::vector<uint64_t>* ids);

}  // namespace taskq
