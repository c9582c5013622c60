#include "client/task_filter.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "client/submit_args.h"
#include "common/segment.h"
#include "fmt/format.h"

namespace taskq {

bool TaskFilter::empty() const {
  return labels.empty() && state.empty() && group.empty() && since.empty() && !failed && array == 0;
}

Status TaskFilter::Finish(uint64_t now_us) {
  TaskState parsed = TaskState::kFree;
  if (!state.empty() && state != "paused" && !ParseTaskState(state, &parsed)) {
    return Status::Invalid(fmt::format(
        "--state: unknown state '{}'; use queued, running, paused, succeeded, failed, timed_out, "
        "cancelled or lost",
        state));
  }
  for (const std::string& label : labels) TASKQ_RETURN_IF_ERROR(CheckLabel(label, "--label"));
  if (!since.empty()) {
    uint64_t ago = 0;
    if (ParseDurationUs(since, &ago)) {
      since_us = now_us > ago ? now_us - ago : 0;
    } else if (ParseAtTime(since, now_us, &since_us)) {
      // "14:00" names the next 14:00 for --at; for --since it is the last one.
      if (since_us > now_us && since.find('-') == std::string::npos && since[0] != '@') {
        since_us -= 86400ull * 1000000;
      }
    } else {
      return Status::Invalid(
          fmt::format("--since: expected a duration ago (30s, 10m, 2h, 1d) or a time (HH:MM[:SS], "
                      "YYYY-MM-DDTHH:MM[:SS], @EPOCH), got '{}'",
                      since));
    }
  }
  return Status::Ok();
}

bool TaskFilter::Matches(const TaskInfo& info) const {
  const TaskRecord& r = info.record;
  if (only_own && r.submitter_uid != only_uid) return false;
  if (!state.empty() && state != info.shown_state()) return false;
  if (!group.empty() && group != info.group) return false;
  if (since_us != 0 && r.submitted_at_us < since_us) return false;
  if (failed && info.state != TaskState::kFailed && info.state != TaskState::kTimedOut &&
      info.state != TaskState::kLost) {
    return false;
  }
  if (array != 0 && ((r.flags & kFlagArray) == 0 || r.array_id != array)) return false;
  for (const std::string& label : labels) {
    const bool has = std::find(info.spec.labels.begin(), info.spec.labels.end(), label) !=
                         info.spec.labels.end() ||
                     (!info.spec.unique.empty() && label == "unique=" + info.spec.unique);
    if (!has) return false;
  }
  return true;
}

void AddFilterOptions(CLI::App* command, TaskFilter* filter) {
  command->add_option("--label", filter->labels, "only tasks with this label K=V (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--state", filter->state,
                      "only tasks in this state (queued, running, paused, succeeded, ...)");
  command->add_option("--group", filter->group, "only tasks of this group");
  command->add_option("--since", filter->since,
                      "only tasks submitted since: a duration ago (10m) or a time (14:00)");
  command->add_flag("--failed", filter->failed, "only tasks that failed, timed out or were lost");
  command->add_option("--array", filter->array,
                      "only the tasks of the array whose first task is ID");
}

void AddSelected(Client& client, const TaskFilter& filter,
                 const std::function<bool(const TaskInfo&)>& actionable,
                 std::vector<uint64_t>* ids) {
  TaskFilter mine = filter;
  if (client.segment().read_only()) {
    mine.only_own = true;
    mine.only_uid = static_cast<uint32_t>(geteuid());
  }
  std::set<uint64_t> have(ids->begin(), ids->end());
  for (const TaskInfo& info : client.List()) {
    if (actionable && !actionable(info)) continue;
    if (mine.Matches(info) && have.insert(info.id()).second) ids->push_back(info.id());
  }
}

}  // namespace taskq
