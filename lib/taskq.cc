// libtaskq (include/taskq/taskq.h): the public API as a thin layer over the internal client
// (client/client.h, client/client.cc). It only converts: public specs to internal specs,
// internal records and statuses to public values. Everything else stays in the client.
#include "taskq/taskq.h"

#include <algorithm>
#include <cstring>

#include "client/client.h"
#include "common/clock.h"
#include "common/kill_signal.h"

namespace taskq::api {
namespace {

Status FromInternal(const taskq::Status& status) {
  return Status(static_cast<Code>(status.code()), status.message());
}

Status ToInternal(const TaskSpec& in, taskq::TaskSpec* out) {
  out->kind = static_cast<taskq::TaskKind>(in.kind);
  if (in.kind != Kind::kCpu && in.kind != Kind::kIo && in.kind != Kind::kExec) {
    return Status(Code::kInvalid, "kind: must be cpu, io or exec");
  }
  out->cpu.count = in.cpu.count;
  out->cpu.seed = in.cpu.seed;
  out->io.bytes = in.io.bytes;
  out->io.path = in.io.path;
  out->io.block = in.io.block;
  out->io.fsync = in.io.fsync;
  out->exec.argv = in.exec.argv;
  out->exec.cwd = in.exec.cwd;
  out->exec.env = in.exec.env;
  if (in.timeout_ms < -1)
    return Status(Code::kInvalid, "timeout: must be 0 or more (-1 = default)");
  if (in.timeout_ms >= 0) out->timeout_ms = static_cast<uint64_t>(in.timeout_ms);
  if (in.retries < -1) return Status(Code::kInvalid, "retries: must be 0 or more (-1 = default)");
  if (in.retries >= 0) out->retries = static_cast<uint32_t>(in.retries);
  if (!in.group.empty()) {
    if (!taskq::IsValidGroupName(in.group)) {
      return Status(Code::kInvalid,
                    "group: '" + in.group + "' is not a group name (1 to 31 of A-Z a-z 0-9 _ . -)");
    }
    out->group = in.group;
  }
  if (in.priority < -1) return Status(Code::kInvalid, "priority: must be 0..9 (-1 = default 5)");
  if (in.priority >= 0) out->priority = static_cast<uint32_t>(in.priority);
  out->after = in.after;
  out->not_before_us = in.not_before_us;
  out->hold = in.hold;
  out->labels = in.labels;
  out->unique = in.unique;
  if (!in.retry_on.empty()) {
    const taskq::Status parsed = taskq::ParseRetryOn(in.retry_on, &out->retry_on);
    if (!parsed.ok()) return Status(Code::kInvalid, parsed.message());
  }
  out->retry_delay_ms = in.retry_delay_ms;
  out->retry_delay_max_ms = in.retry_delay_max_ms;
  return Status();
}

TaskSpec FromInternal(const taskq::TaskSpec& in) {
  TaskSpec out;
  out.kind = static_cast<Kind>(in.kind);
  out.cpu.count = in.cpu.count;
  out.cpu.seed = in.cpu.seed;
  out.io.bytes = in.io.bytes;
  out.io.path = in.io.path;
  out.io.block = in.io.block;
  out.io.fsync = in.io.fsync;
  out.exec.argv = in.exec.argv;
  out.exec.cwd = in.exec.cwd;
  out.exec.env = in.exec.env;
  out.timeout_ms = in.timeout_ms ? static_cast<int64_t>(*in.timeout_ms) : -1;
  out.retries = in.retries ? static_cast<int32_t>(*in.retries) : -1;
  out.group = in.group;
  out.priority = static_cast<int32_t>(in.priority);
  out.after = in.after;
  out.not_before_us = in.not_before_us;
  out.hold = in.hold;
  out.labels = in.labels;
  out.unique = in.unique;
  out.retry_on = in.retry_on != 0 ? taskq::RetryOnText(in.retry_on) : "";
  out.retry_delay_ms = in.retry_delay_ms;
  out.retry_delay_max_ms = in.retry_delay_max_ms;
  return out;
}

TaskInfo FromInternal(const taskq::TaskInfo& in) {
  const taskq::TaskRecord& r = in.record;
  TaskInfo out;
  out.id = r.id;
  out.kind = static_cast<Kind>(r.kind);
  out.state = static_cast<State>(in.state);
  out.exit_code = IsFinished(out.state) ? r.exit_code : -1;
  out.signal = r.signal;
  out.reason = in.reason();
  out.submitted_at_us = r.submitted_at_us;
  out.started_at_us = r.started_at_us;
  out.finished_at_us = IsFinished(out.state) ? r.finished_at_us : 0;
  out.user_us = r.user_us;
  out.sys_us = r.sys_us;
  out.max_rss_kb = r.max_rss_kb;
  out.read_bytes = r.read_bytes;
  out.write_bytes = r.write_bytes;
  out.voluntary_context_switches = r.vol_ctxsw;
  out.involuntary_context_switches = r.invol_ctxsw;
  out.pid = r.runner_pid;
  out.attempts = r.attempts;
  out.retries = r.max_retries;
  out.timeout_ms = r.timeout_ms;
  out.submitter_uid = r.submitter_uid;
  out.group = in.group;
  out.priority = r.priority;
  out.after.assign(r.after, r.after + std::min(r.after_count, taskq::kMaxAfter));
  out.not_before_us = r.not_before_us;
  out.held = in.state == taskq::TaskState::kQueued && (r.flags & taskq::kFlagHeld) != 0;
  out.labels = in.spec.labels;
  out.unique = in.spec.unique;
  out.retry_on = taskq::RetryOnText(r.retry_on);
  out.retry_delay_ms = r.retry_delay_ms;
  out.retry_delay_max_ms = r.retry_delay_max_ms;
  const uint32_t first = r.attempts > taskq::kAttemptLog ? r.attempts - taskq::kAttemptLog + 1 : 1;
  for (uint32_t n = first; n <= r.attempts; ++n) {
    const taskq::AttemptEntry& e = r.attempt_log[(n - 1) % taskq::kAttemptLog];
    if (e.state == 0 || e.state >= taskq::kTaskStateCount) continue;  // under way
    out.attempt_log.push_back({n, static_cast<State>(e.state), e.exit_code, e.signal});
  }
  if ((r.flags & taskq::kFlagArray) != 0) {
    out.array_id = r.array_id;
    out.array_index = r.array_index;
  }
  out.paused = in.state == taskq::TaskState::kRunning && (r.flags & taskq::kFlagPaused) != 0;
  out.paused_us = in.paused_us(taskq::NowUs());
  out.checksum = r.result_checksum;
  out.result_count = r.result_count;
  out.spec_valid = in.spec_valid;
  if (in.spec_valid) {
    out.spec = FromInternal(in.spec);
    out.spec.group = in.group;  // a record keeps the group's row, not its name
  }
  if (out.kind == Kind::kIo) out.io_path = in.io_path();
  if (out.kind == Kind::kExec) {
    out.stdout_path = in.stdout_path();
    out.stderr_path = in.stderr_path();
  }
  return out;
}

}  // namespace

const char* Version() { return TASKQ_VERSION; }

const char* KindName(Kind kind) { return taskq::TaskKindName(static_cast<taskq::TaskKind>(kind)); }

const char* StateName(State state) {
  return taskq::TaskStateName(static_cast<taskq::TaskState>(state));
}

struct Client::Impl {
  std::unique_ptr<taskq::Client> client;
  std::string queue;
  std::string state_dir;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Status Client::Connect(const ConnectOptions& options, std::unique_ptr<Client>* out) {
  auto impl = std::make_unique<Impl>();
  Status status = FromInternal(taskq::Client::Connect(
      {.queue = options.queue, .config_path = options.config_path}, &impl->client));
  if (!status.ok()) return status;
  impl->queue = impl->client->options().queue;
  impl->state_dir = impl->client->state_dir();
  out->reset(new Client(std::move(impl)));
  return status;
}

Status Client::Submit(const std::vector<TaskSpec>& specs, const SubmitOptions& options,
                      std::vector<uint64_t>* ids) {
  std::vector<taskq::TaskSpec> internal(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    Status converted = ToInternal(specs[i], &internal[i]);
    if (converted.ok()) {
      // Encoded once here too, so that a bad field is reported with the task it belongs to
      // (the internal client refuses the batch with the field's message alone).
      taskq::TaskRecord scratch;
      std::memset(static_cast<void*>(&scratch), 0, sizeof(scratch));
      converted = FromInternal(taskq::EncodeSpec(internal[i], &scratch));
    }
    if (!converted.ok()) {
      if (specs.size() == 1) return converted;
      return Status(converted.code(), "task " + std::to_string(i + 1) + " of " +
                                          std::to_string(specs.size()) + ": " +
                                          converted.message() + "; nothing was submitted");
    }
  }
  ids->clear();
  taskq::SubmitOptions submit;
  submit.block = options.block;
  submit.block_timeout_ms = options.block_timeout_ms;
  return FromInternal(impl_->client->Submit(internal, submit, ids));
}

Status Client::Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms,
                    std::vector<TaskInfo>* tasks) {
  std::vector<taskq::TaskInfo> internal;
  Status status = FromInternal(impl_->client->Wait(ids, timeout_ms, &internal));
  tasks->clear();
  for (const taskq::TaskInfo& info : internal) tasks->push_back(FromInternal(info));
  return status;
}

Status Client::Get(uint64_t id, TaskInfo* task) {
  taskq::TaskInfo info;
  Status status = FromInternal(impl_->client->Get(id, &info));
  if (status.ok()) *task = FromInternal(info);
  return status;
}

Status Client::List(std::vector<TaskInfo>* tasks) {
  tasks->clear();
  for (const taskq::TaskInfo& info : impl_->client->List()) tasks->push_back(FromInternal(info));
  return Status();
}

Status Client::Cancel(uint64_t id) { return FromInternal(impl_->client->Cancel(id)); }

Status Client::Hold(uint64_t id) { return FromInternal(impl_->client->SetHeld(id, true)); }

Status Client::Release(uint64_t id) { return FromInternal(impl_->client->SetHeld(id, false)); }

Status Client::Restart(uint64_t id) { return FromInternal(impl_->client->Restart(id)); }

Status Client::Pause(uint64_t id) { return FromInternal(impl_->client->SetPaused(id, true)); }

Status Client::Resume(uint64_t id) { return FromInternal(impl_->client->SetPaused(id, false)); }

Status Client::Kill(uint64_t id, const std::string& signal) {
  int number = 0;
  if (!signal.empty()) {
    const taskq::Status parsed = taskq::ParseKillSignal(signal, &number);
    if (!parsed.ok()) return FromInternal(parsed);
  }
  return FromInternal(impl_->client->Kill(id, number));
}

Status Client::Ping(int64_t timeout_ms, int32_t* pid) {
  taskq::DaemonInfo info;
  Status status = FromInternal(impl_->client->Ping(timeout_ms, &info));
  if (status.ok() && pid != nullptr) *pid = info.pid;
  return status;
}

const std::string& Client::queue() const { return impl_->queue; }
const std::string& Client::state_dir() const { return impl_->state_dir; }

}  // namespace taskq::api
