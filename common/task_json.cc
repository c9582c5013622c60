#include "common/task_json.h"

#include <algorithm>
#include <vector>

#include "common/clock.h"
#include "fmt/format.h"

namespace taskq {
namespace {

nlohmann::json TimeOrNull(uint64_t us) { return us == 0 ? nlohmann::json() : nlohmann::json(us); }

nlohmann::json SpecJson(const TaskInfo& info) {
  const TaskSpec& spec = info.spec;
  if (!info.spec_valid) return nullptr;
  switch (spec.kind) {
    case TaskKind::kCpu:
      return {{"count", spec.cpu.count}, {"seed", spec.cpu.seed}};
    case TaskKind::kIo:
      return {{"bytes", spec.io.bytes},
              {"path", info.io_path()},
              {"block", spec.io.block},
              {"fsync", spec.io.fsync}};
    case TaskKind::kExec:
      return {{"argv", spec.exec.argv}, {"cwd", spec.exec.cwd}, {"env", spec.exec.env}};
  }
  return nullptr;
}

nlohmann::json ResultJson(const TaskInfo& info) {
  const TaskRecord& r = info.record;
  if (!IsFinished(info.state) || info.state == TaskState::kCancelled) return nullptr;
  switch (static_cast<TaskKind>(r.kind)) {
    case TaskKind::kCpu:
      if (info.state != TaskState::kSucceeded) return nullptr;
      return {{"checksum", fmt::format("{:016x}", r.result_checksum)}, {"count", r.result_count}};
    case TaskKind::kIo:
      if (info.state != TaskState::kSucceeded) return nullptr;
      return {{"bytes", r.result_count}, {"path", info.io_path()}};
    case TaskKind::kExec:
      return {{"stdout", info.stdout_path()}, {"stderr", info.stderr_path()}};
  }
  return nullptr;
}

// How each attempt still in the record's log ended (the last kAttemptLog), oldest first; the
// logs of attempt N of an exec task are `logs --attempt N`.
nlohmann::json AttemptLogJson(const TaskInfo& info) {
  const TaskRecord& r = info.record;
  nlohmann::json log = nlohmann::json::array();
  const uint32_t first = r.attempts > kAttemptLog ? r.attempts - kAttemptLog + 1 : 1;
  for (uint32_t n = first; n <= r.attempts; ++n) {
    const AttemptEntry& e = r.attempt_log[(n - 1) % kAttemptLog];
    if (e.state == 0 || e.state >= kTaskStateCount) continue;  // still running, or not recorded
    nlohmann::json a;
    a["attempt"] = n;
    a["state"] = TaskStateName(static_cast<TaskState>(e.state));
    a["exit_code"] = e.exit_code >= 0 ? nlohmann::json(e.exit_code) : nlohmann::json();
    a["signal"] = e.signal != 0 ? nlohmann::json(e.signal) : nlohmann::json();
    log.push_back(std::move(a));
  }
  return log;
}

}  // namespace

nlohmann::json TaskToJson(const TaskInfo& info) {
  const TaskRecord& r = info.record;
  const bool started = r.started_at_us != 0;
  const bool finished = IsFinished(info.state);
  nlohmann::json j;
  j["id"] = r.id;
  j["kind"] = TaskKindName(static_cast<TaskKind>(r.kind));
  j["state"] = info.shown_state();
  j["exit_code"] = finished && r.exit_code >= 0 ? nlohmann::json(r.exit_code) : nlohmann::json();
  j["signal"] = r.signal != 0 ? nlohmann::json(r.signal) : nlohmann::json();
  j["submitted_at"] = TimeOrNull(r.submitted_at_us);
  j["started_at"] = TimeOrNull(r.started_at_us);
  j["finished_at"] = finished ? TimeOrNull(r.finished_at_us) : nlohmann::json();
  j["queue_wait_us"] = started && r.started_at_us >= r.submitted_at_us
                           ? nlohmann::json(r.started_at_us - r.submitted_at_us)
                           : nlohmann::json();
  j["run_us"] = finished && started ? nlohmann::json(info.run_us(0)) : nlohmann::json();
  j["user_us"] = r.user_us;
  j["sys_us"] = r.sys_us;
  j["max_rss_kb"] = r.max_rss_kb;
  j["pid"] = r.runner_pid != 0 ? nlohmann::json(r.runner_pid) : nlohmann::json();
  if ((r.flags & kFlagBatchJob) != 0 && r.child_pid > 0) j["slurm_job_id"] = r.child_pid;
  j["attempts"] = r.attempts;
  j["retries"] = r.max_retries;
  j["retry_on"] = RetryOnText(r.retry_on);
  j["retry_delay_ms"] = r.retry_delay_ms != 0 ? nlohmann::json(r.retry_delay_ms) : nlohmann::json();
  j["retry_delay_max_ms"] =
      r.retry_delay_max_ms != 0 ? nlohmann::json(r.retry_delay_max_ms) : nlohmann::json();
  j["attempt_log"] = AttemptLogJson(info);
  j["timeout_ms"] = r.timeout_ms != 0 ? nlohmann::json(r.timeout_ms) : nlohmann::json();
  j["uid"] = r.submitter_uid;
  j["group"] = info.group;
  j["priority"] = r.priority;
  j["after"] = std::vector<uint64_t>(r.after, r.after + std::min(r.after_count, kMaxAfter));
  j["not_before"] = TimeOrNull(r.not_before_us);
  j["held"] = info.state == TaskState::kQueued && (r.flags & kFlagHeld) != 0;
  nlohmann::json labels = nlohmann::json::object();
  for (const std::string& label : info.spec.labels) {
    const size_t eq = label.find('=');
    labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  j["labels"] = std::move(labels);
  j["unique"] = info.spec.unique.empty() ? nlohmann::json() : nlohmann::json(info.spec.unique);
  const bool in_array = (r.flags & kFlagArray) != 0;
  j["array_id"] = in_array ? nlohmann::json(r.array_id) : nlohmann::json();
  j["array_index"] = in_array ? nlohmann::json(r.array_index) : nlohmann::json();
  j["paused"] = info.paused();
  j["paused_us"] = info.paused_us(NowUs());
  j["result"] = ResultJson(info);
  j["spec"] = SpecJson(info);
  std::string reason = info.reason();
  j["reason"] = reason.empty() ? nlohmann::json() : nlohmann::json(reason);
  // The policy lab's view of the work (issue: know what kind of work it is).
  uint64_t run_us = j["run_us"].is_null() ? 0 : j["run_us"].get<uint64_t>();
  j["cpu_share"] =
      run_us > 0 ? nlohmann::json(double(r.user_us + r.sys_us) / double(run_us)) : nlohmann::json();
  j["read_bytes"] = r.read_bytes;
  j["write_bytes"] = r.write_bytes;
  j["vol_ctxsw"] = r.vol_ctxsw;
  j["invol_ctxsw"] = r.invol_ctxsw;
  return j;
}

}  // namespace taskq
