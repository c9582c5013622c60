#include "common/task.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/deadline.h"
#include "common/text.h"
#include "fmt/format.h"

namespace taskq {
namespace {

constexpr const char* kStateNames[kTaskStateCount] = {
    "free",   "reserved",  "queued",    "running", "succeeded",
    "failed", "timed_out", "cancelled", "lost",
};

// Appends `s` and its NUL to the payload; false when it does not fit.
bool AppendString(const std::string& s, TaskRecord* record, uint32_t* used) {
  if (s.find('\0') != std::string::npos) return false;
  if (*used + s.size() + 1 > kPayloadBytes) return false;
  std::memcpy(record->payload + *used, s.data(), s.size());
  record->payload[*used + s.size()] = '\0';
  *used += static_cast<uint32_t>(s.size() + 1);
  return true;
}

// Reads the next NUL-terminated string; false when none ends inside [*pos, end).
bool NextString(const TaskRecord& record, uint32_t end, uint32_t* pos, std::string* out) {
  const void* nul = std::memchr(record.payload + *pos, '\0', end - *pos);
  if (nul == nullptr) return false;
  size_t len = static_cast<const char*>(nul) - (record.payload + *pos);
  out->assign(record.payload + *pos, len);
  *pos += static_cast<uint32_t>(len + 1);
  return true;
}

}  // namespace

const char* TaskKindName(TaskKind kind) {
  switch (kind) {
    case TaskKind::kCpu:
      return "cpu";
    case TaskKind::kIo:
      return "io";
    case TaskKind::kExec:
      return "exec";
  }
  return "unknown";
}

const char* TaskStateName(TaskState state) {
  auto index = static_cast<uint32_t>(state);
  return index < kTaskStateCount ? kStateNames[index] : "corrupt";
}

bool ParseTaskState(const std::string& text, TaskState* state) {
  for (uint32_t i = 2; i < kTaskStateCount; ++i) {
    if (text == kStateNames[i]) {
      *state = static_cast<TaskState>(i);
      return true;
    }
  }
  return false;
}

Status ParseRetryOn(const std::string& text, uint32_t* mask) {
  *mask = 0;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(',', begin);
    const std::string word = text.substr(begin, end == std::string::npos ? end : end - begin);
    TaskState state = TaskState::kFree;
    if (!ParseTaskState(word, &state) ||
        (state != TaskState::kFailed && state != TaskState::kTimedOut &&
         state != TaskState::kLost)) {
      return Status::Invalid(fmt::format(
          "--retry-on: expected lost, failed or timed_out (comma-separated), got '{}'", word));
    }
    *mask |= 1u << static_cast<uint32_t>(state);
    if (end == std::string::npos) return Status::Ok();
    begin = end + 1;
  }
}

std::string RetryOnText(uint32_t mask) {
  if (mask == 0) mask = 1u << static_cast<uint32_t>(TaskState::kLost);
  std::string text;
  for (TaskState s : {TaskState::kFailed, TaskState::kTimedOut, TaskState::kLost}) {
    if ((mask & (1u << static_cast<uint32_t>(s))) != 0) {
      // Appended piece by piece: GCC 12 -O3 warns (-Wrestrict, a false positive) on
      // `const char* + std::string` here.
      if (!text.empty()) text += ',';
      text += TaskStateName(s);
    }
  }
  return text;
}

Status CheckLabel(const std::string& label, const char* field) {
  const size_t eq = label.find('=');
  const std::string key = label.substr(0, eq);
  const bool key_ok =
      eq != std::string::npos && !key.empty() && key.size() <= kMaxLabelKeyBytes &&
      std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
      });
  if (!key_ok) {
    return Status::Invalid(
        fmt::format("{}: expected KEY=VALUE with KEY of 1 to {} of A-Z a-z 0-9 _ . -, got '{}'",
                    field, kMaxLabelKeyBytes, EscapeControl(label)));
  }
  const std::string value = label.substr(eq + 1);
  if (value.size() > kMaxLabelValueBytes || std::any_of(value.begin(), value.end(), [](char c) {
        return std::iscntrl(static_cast<unsigned char>(c)) != 0;
      })) {
    return Status::Invalid(
        fmt::format("{}: the value of '{}' must be at most {} bytes without control characters",
                    field, key, kMaxLabelValueBytes));
  }
  return Status::Ok();
}

Status EncodeSpec(const TaskSpec& spec, TaskRecord* record) {
  if (spec.priority >= kPriorityLevels) {
    return Status::Invalid(
        fmt::format("--priority: must be 0..{}, got {}", kPriorityLevels - 1, spec.priority));
  }
  if (spec.after.size() > kMaxAfter) {
    return Status::Invalid(
        fmt::format("--after: at most {} task ids, got {}; chain through an intermediate task",
                    kMaxAfter, spec.after.size()));
  }
  for (uint64_t id : spec.after) {
    if (id == 0 || id >= kMaxTaskId) {
      return Status::Invalid(fmt::format("--after: {} is not a task id", id));
    }
  }
  record->priority = spec.priority;
  record->not_before_us = spec.not_before_us;
  record->after_count = static_cast<uint32_t>(spec.after.size());
  for (size_t i = 0; i < spec.after.size(); ++i) record->after[i] = spec.after[i];
  if (spec.timeout_ms.value_or(0) > kMaxTimeoutMs) {
    return Status::Invalid(fmt::format("--timeout: must be at most {} s", kMaxTimeoutMs / 1000));
  }
  if (spec.retries.value_or(0) > kMaxRetries) {
    return Status::Invalid(fmt::format("--retries: must be 0..{}", kMaxRetries));
  }
  if (spec.labels.size() > kMaxLabels) {
    return Status::Invalid(
        fmt::format("--label: at most {} labels, got {}", kMaxLabels, spec.labels.size()));
  }
  for (const std::string& label : spec.labels) {
    TASKQ_RETURN_IF_ERROR(CheckLabel(label, "--label"));
    if (label.rfind("unique=", 0) == 0) {
      return Status::Invalid("--label: the key 'unique' is --unique's; use --unique KEY");
    }
  }
  if (!spec.unique.empty()) TASKQ_RETURN_IF_ERROR(CheckLabel("unique=" + spec.unique, "--unique"));
  if (spec.array_id >= kMaxTaskId) {
    return Status::Invalid(fmt::format("array_id: {} is not a task id", spec.array_id));
  }
  constexpr uint32_t kRetryable = (1u << static_cast<uint32_t>(TaskState::kFailed)) |
                                  (1u << static_cast<uint32_t>(TaskState::kTimedOut)) |
                                  (1u << static_cast<uint32_t>(TaskState::kLost));
  if ((spec.retry_on & ~kRetryable) != 0) {
    return Status::Invalid("--retry-on: only lost, failed and timed_out can be retried");
  }
  if (spec.retry_delay_max_ms != 0 && spec.retry_delay_max_ms < spec.retry_delay_ms) {
    return Status::Invalid("--retry-delay: in FIRST..MAX, MAX must not be below FIRST");
  }
  record->retry_on = spec.retry_on;
  record->retry_delay_ms = spec.retry_delay_ms;
  record->retry_delay_max_ms = spec.retry_delay_max_ms;
  record->array_id = spec.array_index ? spec.array_id : 0;
  record->array_index = spec.array_index.value_or(0);
  if (spec.array_index) record->flags |= kFlagArray;
  record->kind = static_cast<uint32_t>(spec.kind);
  if (spec.hold) record->flags |= kFlagHeld;
  record->payload_len = 0;
  record->argc = 0;
  record->envc = 0;
  uint32_t used = 0;
  switch (spec.kind) {
    case TaskKind::kCpu:
      record->cpu_count = spec.cpu.count;
      record->cpu_seed = spec.cpu.seed;
      break;
    case TaskKind::kIo:
      if (spec.io.block == 0) return Status::Invalid("--block: must be at least 1 byte");
      record->io_bytes = spec.io.bytes;
      record->io_block = spec.io.block;
      if (spec.io.fsync) record->flags |= kFlagFsync;
      if (!AppendString(spec.io.path, record, &used)) {
        return Status::Invalid(fmt::format("--path: {} bytes is too long; the limit is {}",
                                           spec.io.path.size(), kPayloadBytes - 1));
      }
      break;
    case TaskKind::kExec: {
      if (spec.exec.argv.empty() || spec.exec.argv[0].empty()) {
        return Status::Invalid("exec: no command given; put it after --, e.g. exec -- /bin/true");
      }
      if (spec.exec.argv.size() > 4096 || spec.exec.env.size() > 4096) {
        return Status::Invalid("exec: too many arguments or --env pairs (the limit is 4096)");
      }
      // The same rule DecodeSpec applies: a record the daemon could not read back must not be
      // written (fuzz_request found {"env":["A91"]} accepted over the control socket).
      for (const auto& kv : spec.exec.env) {
        if (kv.find('=') == std::string::npos) {
          return Status::Invalid(fmt::format("--env: expected NAME=VALUE, got '{}'", kv));
        }
      }
      bool fits = AppendString(spec.exec.cwd, record, &used);
      for (const auto& arg : spec.exec.argv) fits = fits && AppendString(arg, record, &used);
      for (const auto& kv : spec.exec.env) fits = fits && AppendString(kv, record, &used);
      if (!fits) {
        return Status::Invalid(fmt::format(
            "exec: command, --cwd and --env together exceed {} bytes (or contain a NUL byte); "
            "put a long command line in a script and run that",
            kPayloadBytes));
      }
      record->argc = static_cast<uint16_t>(spec.exec.argv.size());
      record->envc = static_cast<uint16_t>(spec.exec.env.size());
      break;
    }
    default:
      return Status::Invalid("task kind: must be cpu, io or exec");
  }
  // Labels last, after the kind's strings; --unique's key is the label unique=KEY.
  bool fits = true;
  for (const std::string& label : spec.labels) fits = fits && AppendString(label, record, &used);
  if (!spec.unique.empty()) fits = fits && AppendString("unique=" + spec.unique, record, &used);
  if (!fits) {
    return Status::Invalid(fmt::format(
        "--label: the labels do not fit beside the task's spec ({} bytes in all); use fewer or "
        "shorter labels",
        kPayloadBytes));
  }
  record->label_count = static_cast<uint32_t>(spec.labels.size() + (spec.unique.empty() ? 0 : 1));
  record->payload_len = used;
  return Status::Ok();
}

Status DecodeSpec(const TaskRecord& record, TaskSpec* spec) {
  *spec = TaskSpec{};
  uint32_t end = record.payload_len;
  if (end > kPayloadBytes) {
    return Status::Invalid(
        fmt::format("record {}: payload_len {} exceeds {}", record.id, end, kPayloadBytes));
  }
  if (record.group >= kMaxGroups || record.priority >= kPriorityLevels ||
      record.after_count > kMaxAfter) {
    return Status::Invalid(
        fmt::format("record {}: group {}, priority {} or after_count {} out of "
                    "range",
                    record.id, record.group, record.priority, record.after_count));
  }
  spec->group.clear();
  spec->priority = record.priority;
  spec->not_before_us = record.not_before_us;
  spec->after.assign(record.after, record.after + record.after_count);
  spec->hold = (record.flags & kFlagHeld) != 0;
  uint32_t pos = 0;
  switch (static_cast<TaskKind>(record.kind)) {
    case TaskKind::kCpu:
      spec->kind = TaskKind::kCpu;
      spec->cpu.count = record.cpu_count;
      spec->cpu.seed = record.cpu_seed;
      break;
    case TaskKind::kIo:
      spec->kind = TaskKind::kIo;
      spec->io.bytes = record.io_bytes;
      spec->io.block = record.io_block;
      spec->io.fsync = (record.flags & kFlagFsync) != 0;
      if (record.io_block == 0) return Status::Invalid("record: io block size is 0");
      if (!NextString(record, end, &pos, &spec->io.path)) {
        return Status::Invalid(fmt::format("record {}: io path is not terminated", record.id));
      }
      break;
    case TaskKind::kExec:
      spec->kind = TaskKind::kExec;
      if (record.argc == 0) return Status::Invalid(fmt::format("record {}: argc is 0", record.id));
      if (!NextString(record, end, &pos, &spec->exec.cwd)) {
        return Status::Invalid(fmt::format("record {}: cwd is not terminated", record.id));
      }
      for (uint32_t i = 0; i < record.argc; ++i) {
        std::string arg;
        if (!NextString(record, end, &pos, &arg)) {
          return Status::Invalid(
              fmt::format("record {}: argv[{}] is not terminated", record.id, i));
        }
        spec->exec.argv.push_back(std::move(arg));
      }
      for (uint32_t i = 0; i < record.envc; ++i) {
        std::string kv;
        if (!NextString(record, end, &pos, &kv) || kv.find('=') == std::string::npos) {
          return Status::Invalid(fmt::format("record {}: env[{}] is malformed", record.id, i));
        }
        spec->exec.env.push_back(std::move(kv));
      }
      if (spec->exec.argv[0].empty()) {
        return Status::Invalid(fmt::format("record {}: argv[0] is empty", record.id));
      }
      break;
    default:
      return Status::Invalid(fmt::format("record {}: unknown kind {}", record.id, record.kind));
  }
  if (record.label_count > kMaxLabels + 1) {
    return Status::Invalid(
        fmt::format("record {}: label_count {} is above the limit", record.id, record.label_count));
  }
  for (uint32_t i = 0; i < record.label_count; ++i) {
    std::string label;
    if (!NextString(record, end, &pos, &label) || label.find('=') == std::string::npos) {
      return Status::Invalid(fmt::format("record {}: label {} is malformed", record.id, i));
    }
    if (label.rfind("unique=", 0) == 0) {
      spec->unique = label.substr(7);
    } else {
      spec->labels.push_back(std::move(label));
    }
  }
  if ((record.flags & kFlagArray) != 0) {
    spec->array_id = record.array_id;
    spec->array_index = record.array_index;
  }
  // Bounds the submit side enforces; larger values were written around it.
  if (record.timeout_ms > kMaxTimeoutMs) {
    return Status::Invalid(
        fmt::format("record {}: timeout {} ms is impossible", record.id, record.timeout_ms));
  }
  if (record.max_retries > kMaxRetries) {
    return Status::Invalid(fmt::format("record {}: {} retries is above the limit {}", record.id,
                                       record.max_retries, kMaxRetries));
  }
  spec->timeout_ms = record.timeout_ms;
  spec->retries = record.max_retries;
  spec->retry_on = record.retry_on;
  spec->retry_delay_ms = record.retry_delay_ms;
  spec->retry_delay_max_ms = record.retry_delay_max_ms;
  return Status::Ok();
}

std::string TaskInfo::reason() const {
  return std::string(record.reason, strnlen(record.reason, sizeof(record.reason)));
}

bool TaskInfo::paused() const {
  return state == TaskState::kRunning && (record.flags & kFlagPaused) != 0;
}

const char* TaskInfo::shown_state() const { return paused() ? "paused" : TaskStateName(state); }

uint64_t TaskInfo::run_us(uint64_t now_us) const {
  const uint64_t end = IsFinished(state) ? record.finished_at_us : now_us;
  return RunMicros(record.started_at_us, end, record.paused_us, paused() ? record.paused_at_us : 0);
}

uint64_t TaskInfo::paused_us(uint64_t now_us) const {
  const bool pausing = paused() && record.paused_at_us != 0 && now_us > record.paused_at_us;
  return record.paused_us + (pausing ? now_us - record.paused_at_us : 0);
}

std::string TaskInfo::stdout_path() const {
  return LogPath(state_dir, record.id, false, record.attempts);
}
std::string TaskInfo::stderr_path() const {
  return LogPath(state_dir, record.id, true, record.attempts);
}
std::string TaskInfo::io_path() const {
  return spec.io.path.empty() ? DefaultIoPath(state_dir, record.id) : spec.io.path;
}

std::string LogName(uint64_t id, uint32_t attempt, bool is_stderr) {
  const char* stream = is_stderr ? "err" : "out";
  return attempt <= 1 ? fmt::format("{}.{}", id, stream)
                      : fmt::format("{}.{}.{}", id, attempt, stream);
}

std::string LogPath(const std::string& state_dir, uint64_t id, bool is_stderr, uint32_t attempt) {
  return fmt::format("{}/logs/{}", state_dir, LogName(id, attempt, is_stderr));
}

std::string DefaultIoPath(const std::string& state_dir, uint64_t id) {
  return fmt::format("{}/io/{}.dat", state_dir, id);
}

}  // namespace taskq
