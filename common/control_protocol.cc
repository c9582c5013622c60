#include "common/control_protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/kill_signal.h"
#include "fmt/format.h"

namespace taskq {
namespace {

using json = nlohmann::json;

// Each operation with the fields it takes besides "op". A field another operation takes is
// refused too: it would be dropped silently, and a request must mean exactly what it says (and
// serialize back to itself).
struct OpName {
  ControlOp op;
  const char* name;
  std::array<const char*, 6> fields;  // unused entries are null
};
const OpName kOps[] = {
    {ControlOp::kSubmit, "submit", {"op", "tasks", "sync"}},
    {ControlOp::kCancel, "cancel", {"op", "id"}},
    {ControlOp::kPing, "ping", {"op"}},
    {ControlOp::kLogs, "logs", {"op", "id", "stderr", "attempt"}},
    {ControlOp::kShutdown, "shutdown", {"op"}},
    {ControlOp::kGroup, "group", {"op", "action", "name", "policy", "workers", "max_parallel"}},
    {ControlOp::kRepair, "repair", {"op"}},
    {ControlOp::kReload, "reload", {"op"}},
    {ControlOp::kKill, "kill", {"op", "id", "signal"}},
    {ControlOp::kHold, "hold", {"op", "id"}},
    {ControlOp::kRelease, "release", {"op", "id"}},
    {ControlOp::kPause, "pause", {"op", "id"}},
    {ControlOp::kResume, "resume", {"op", "id"}},
    {ControlOp::kRestart, "restart", {"op", "id"}},
};

// Readers of one JSON object's fields: each refuses a wrong type or range with the field's name.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Status Unsigned(const char* key, uint64_t max, uint64_t* out, bool* present = nullptr) {
    if (present != nullptr) *present = false;
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return Status::Ok();
    if (!it->is_number_unsigned() || it->get<uint64_t>() > max) {
      return Bad(key, fmt::format("a whole number 0..{}", max));
    }
    *out = it->get<uint64_t>();
    if (present != nullptr) *present = true;
    return Status::Ok();
  }
  Status Text(const char* key, size_t max_bytes, std::string* out) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return Status::Ok();
    if (!it->is_string() || it->get_ref<const std::string&>().size() > max_bytes) {
      return Bad(key, fmt::format("a string of at most {} bytes", max_bytes));
    }
    *out = it->get<std::string>();
    return Status::Ok();
  }
  Status Flag(const char* key, bool* out) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return Status::Ok();
    if (!it->is_boolean()) return Bad(key, "true or false");
    *out = it->get<bool>();
    return Status::Ok();
  }
  Status Texts(const char* key, size_t max_items, std::vector<std::string>* out) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return Status::Ok();
    if (!it->is_array() || it->size() > max_items) {
      return Bad(key, fmt::format("a list of at most {} strings", max_items));
    }
    out->clear();
    for (const json& item : *it) {
      if (!item.is_string()) return Bad(key, "a list of strings");
      out->push_back(item.get<std::string>());
    }
    return Status::Ok();
  }
  Status Ids(const char* key, size_t max_items, std::vector<uint64_t>* out) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return Status::Ok();
    if (!it->is_array() || it->size() > max_items) {
      return Bad(key, fmt::format("a list of at most {} task ids", max_items));
    }
    out->clear();
    for (const json& item : *it) {
      if (!item.is_number_unsigned() || item.get<uint64_t>() == 0 ||
          item.get<uint64_t>() >= kMaxTaskId) {
        return Bad(key, "a list of task ids (1 or more)");
      }
      out->push_back(item.get<uint64_t>());
    }
    return Status::Ok();
  }
  // Refuses keys outside `known`: a typo must not be silently ignored.
  Status OnlyKnown(std::initializer_list<const char*> known) {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      bool found = false;
      for (const char* k : known) found = found || it.key() == k;
      if (!found) {
        return Status::Invalid(fmt::format("{}: unknown field '{}'", where_, it.key()));
      }
    }
    return Status::Ok();
  }

 private:
  Status Bad(const char* key, const std::string& expected) {
    return Status::Invalid(fmt::format("{}: field '{}' must be {}", where_, key, expected));
  }
  const json& object_;
  std::string where_;
};

json SpecToJson(const TaskSpec& spec) {
  json j;
  j["kind"] = TaskKindName(spec.kind);
  switch (spec.kind) {
    case TaskKind::kCpu:
      j["count"] = spec.cpu.count;
      j["seed"] = spec.cpu.seed;
      break;
    case TaskKind::kIo:
      j["bytes"] = spec.io.bytes;
      j["path"] = spec.io.path;
      j["block"] = spec.io.block;
      j["fsync"] = spec.io.fsync;
      break;
    case TaskKind::kExec:
      j["argv"] = spec.exec.argv;
      j["cwd"] = spec.exec.cwd;
      j["env"] = spec.exec.env;
      break;
  }
  if (spec.timeout_ms) j["timeout_ms"] = *spec.timeout_ms;
  if (spec.retries) j["retries"] = *spec.retries;
  if (spec.retry_on != 0) j["retry_on"] = RetryOnText(spec.retry_on);
  if (spec.retry_delay_ms != 0) j["retry_delay_ms"] = spec.retry_delay_ms;
  if (spec.retry_delay_max_ms != 0) j["retry_delay_max_ms"] = spec.retry_delay_max_ms;
  j["group"] = spec.group;
  j["priority"] = spec.priority;
  j["not_before_us"] = spec.not_before_us;
  j["after"] = spec.after;
  if (spec.hold) j["hold"] = true;
  if (!spec.labels.empty()) j["labels"] = spec.labels;
  if (!spec.unique.empty()) j["unique"] = spec.unique;
  if (spec.array_index) {
    j["array_index"] = *spec.array_index;
    if (spec.array_id != 0) j["array_id"] = spec.array_id;
  }
  return j;
}

Status SpecFromJson(const json& j, const std::string& where, TaskSpec* spec) {
  if (!j.is_object()) return Status::Invalid(where + ": must be a JSON object");
  Fields f(j, where);
  TASKQ_RETURN_IF_ERROR(f.OnlyKnown(
      {"kind",   "count",    "seed",          "bytes",    "path",           "block",
       "fsync",  "argv",     "cwd",           "env",      "timeout_ms",     "retries",
       "group",  "priority", "not_before_us", "after",    "hold",           "labels",
       "unique", "array_id", "array_index",   "retry_on", "retry_delay_ms", "retry_delay_max_ms"}));
  std::string kind;
  TASKQ_RETURN_IF_ERROR(f.Text("kind", 8, &kind));
  if (kind == "cpu") {
    spec->kind = TaskKind::kCpu;
  } else if (kind == "io") {
    spec->kind = TaskKind::kIo;
  } else if (kind == "exec") {
    spec->kind = TaskKind::kExec;
  } else {
    return Status::Invalid(where + ": field 'kind' must be cpu, io or exec");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  TASKQ_RETURN_IF_ERROR(f.Unsigned("count", kMax, &spec->cpu.count));
  TASKQ_RETURN_IF_ERROR(f.Unsigned("seed", kMax, &spec->cpu.seed));
  TASKQ_RETURN_IF_ERROR(f.Unsigned("bytes", kMax, &spec->io.bytes));
  TASKQ_RETURN_IF_ERROR(f.Text("path", kPayloadBytes, &spec->io.path));
  TASKQ_RETURN_IF_ERROR(f.Unsigned("block", kMax, &spec->io.block));
  TASKQ_RETURN_IF_ERROR(f.Flag("fsync", &spec->io.fsync));
  TASKQ_RETURN_IF_ERROR(f.Texts("argv", kPayloadBytes, &spec->exec.argv));
  TASKQ_RETURN_IF_ERROR(f.Text("cwd", kPayloadBytes, &spec->exec.cwd));
  TASKQ_RETURN_IF_ERROR(f.Texts("env", kPayloadBytes, &spec->exec.env));
  uint64_t value = 0;
  bool present = false;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("timeout_ms", kMaxTimeoutMs, &value, &present));
  if (present) spec->timeout_ms = value;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("retries", kMaxRetries, &value, &present));
  if (present) spec->retries = static_cast<uint32_t>(value);
  TASKQ_RETURN_IF_ERROR(f.Text("group", kGroupNameBytes - 1, &spec->group));
  TASKQ_RETURN_IF_ERROR(f.Unsigned("priority", kPriorityLevels - 1, &value, &present));
  if (present) spec->priority = static_cast<uint32_t>(value);
  TASKQ_RETURN_IF_ERROR(f.Unsigned("not_before_us", kMax, &spec->not_before_us));
  TASKQ_RETURN_IF_ERROR(f.Ids("after", kMaxAfter, &spec->after));
  TASKQ_RETURN_IF_ERROR(f.Flag("hold", &spec->hold));
  TASKQ_RETURN_IF_ERROR(f.Texts("labels", kMaxLabels, &spec->labels));
  TASKQ_RETURN_IF_ERROR(f.Text("unique", kMaxLabelValueBytes, &spec->unique));
  TASKQ_RETURN_IF_ERROR(f.Unsigned("array_index", kMax, &value, &present));
  if (present) spec->array_index = value;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("array_id", kMaxTaskId - 1, &spec->array_id));
  std::string retry_on;
  TASKQ_RETURN_IF_ERROR(f.Text("retry_on", 64, &retry_on));
  if (!retry_on.empty()) {
    Status parsed = ParseRetryOn(retry_on, &spec->retry_on);
    if (!parsed.ok()) return Status::Invalid(where + ": " + parsed.message());
  }
  constexpr uint64_t kMaxDelayMs = std::numeric_limits<uint32_t>::max();
  TASKQ_RETURN_IF_ERROR(f.Unsigned("retry_delay_ms", kMaxDelayMs, &value, &present));
  if (present) spec->retry_delay_ms = static_cast<uint32_t>(value);
  TASKQ_RETURN_IF_ERROR(f.Unsigned("retry_delay_max_ms", kMaxDelayMs, &value, &present));
  if (present) spec->retry_delay_max_ms = static_cast<uint32_t>(value);
  // The record's own checks (sizes, NULs, counts) are EncodeSpec's.
  TaskRecord scratch;
  std::memset(static_cast<void*>(&scratch), 0, sizeof(scratch));
  Status fits = EncodeSpec(*spec, &scratch);
  if (!fits.ok()) return Status::Invalid(where + ": " + fits.message());
  return Status::Ok();
}

Status Errno(const char* what) {
  return Status::Unavailable(fmt::format("control socket: {}: {}", what, std::strerror(errno)));
}

}  // namespace

std::string ControlSocketPath(const std::string& state_dir) { return state_dir + "/control.sock"; }

const char* ControlOpName(ControlOp op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

bool IsAdminOp(ControlOp op) {
  return op == ControlOp::kShutdown || op == ControlOp::kGroup || op == ControlOp::kRepair ||
         op == ControlOp::kReload;
}

Status ParseControlRequest(std::string_view body, ControlRequest* request) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Invalid("request: not a JSON object");
  }
  Fields f(j, "request");
  TASKQ_RETURN_IF_ERROR(f.OnlyKnown({"op", "tasks", "sync", "id", "signal", "stderr", "attempt",
                                     "action", "name", "policy", "workers", "max_parallel"}));
  std::string op;
  TASKQ_RETURN_IF_ERROR(f.Text("op", 16, &op));
  const OpName* known = nullptr;
  for (const OpName& o : kOps) {
    if (op == o.name) known = &o;
  }
  if (known == nullptr) {
    return Status::Invalid(
        "request: field 'op' must be submit, cancel, kill, hold, release, pause, resume, restart, "
        "ping, logs, shutdown, group, repair or reload");
  }
  request->op = known->op;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find_if(known->fields.begin(), known->fields.end(), [&](const char* k) {
          return k != nullptr && it.key() == k;
        }) == known->fields.end()) {
      return Status::Invalid(
          fmt::format("request: op '{}' takes no field '{}'; remove it", known->name, it.key()));
    }
  }
  TASKQ_RETURN_IF_ERROR(f.Unsigned("id", kMaxTaskId - 1, &request->id));
  uint64_t signal = 0;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("signal", 64, &signal));
  if (signal != 0 && !IsKillSignal(static_cast<int>(signal))) {
    return Status::Invalid(
        fmt::format("request: field 'signal' must be the number of {}", kKillSignalNames));
  }
  request->signal = static_cast<int>(signal);
  TASKQ_RETURN_IF_ERROR(f.Flag("stderr", &request->stderr_stream));
  TASKQ_RETURN_IF_ERROR(f.Flag("sync", &request->sync));
  uint64_t attempt = 0;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("attempt", std::numeric_limits<uint32_t>::max(), &attempt));
  request->attempt = static_cast<uint32_t>(attempt);
  TASKQ_RETURN_IF_ERROR(f.Text("action", 16, &request->group_action));
  TASKQ_RETURN_IF_ERROR(f.Text("name", 64, &request->name));
  std::string policy = "pool";
  TASKQ_RETURN_IF_ERROR(f.Text("policy", 16, &policy));
  if (!ParsePolicy(policy, &request->group.policy) || request->group.policy == Policy::kSlurm) {
    return Status::Invalid("request: field 'policy' must be pool or process");
  }
  uint64_t value = 0;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("workers", kMaxWorkers, &value));
  request->group.workers = static_cast<uint32_t>(value);
  value = 0;
  TASKQ_RETURN_IF_ERROR(f.Unsigned("max_parallel", 100000, &value));
  request->group.max_parallel = static_cast<uint32_t>(value);
  if (request->op == ControlOp::kGroup && request->group_action != "add" &&
      request->group_action != "remove" && request->group_action != "pause" &&
      request->group_action != "resume") {
    return Status::Invalid("request: field 'action' must be add, remove, pause or resume");
  }
  if ((request->op == ControlOp::kCancel || request->op == ControlOp::kLogs ||
       request->op == ControlOp::kKill || request->op == ControlOp::kHold ||
       request->op == ControlOp::kRelease || request->op == ControlOp::kPause ||
       request->op == ControlOp::kResume || request->op == ControlOp::kRestart) &&
      request->id == 0) {
    return Status::Invalid("request: field 'id' must be a task id (1 or more)");
  }
  auto tasks = j.find("tasks");
  if (request->op == ControlOp::kSubmit) {
    if (tasks == j.end() || !tasks->is_array() || tasks->empty() ||
        tasks->size() > kMaxTasksPerRequest) {
      return Status::Invalid(fmt::format("request: field 'tasks' must be a list of 1 to {} tasks",
                                         kMaxTasksPerRequest));
    }
    request->tasks.clear();
    request->tasks.reserve(tasks->size());
    for (size_t i = 0; i < tasks->size(); ++i) {
      TaskSpec spec;
      TASKQ_RETURN_IF_ERROR(
          SpecFromJson((*tasks)[i], fmt::format("task {} of {}", i + 1, tasks->size()), &spec));
      request->tasks.push_back(std::move(spec));
    }
  }
  return Status::Ok();
}

namespace {

// Where in `j` the first string that is not valid UTF-8 sits, as "tasks[0].argv[2]"; empty when
// there is none. Only walked after dump() refused, so the common case costs nothing.
std::string FirstInvalidUtf8(const json& j, const std::string& path) {
  if (j.is_string()) {
    try {
      (void)j.dump();
      return {};
    } catch (const json::type_error&) {
      return path;
    }
  }
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      std::string found = FirstInvalidUtf8(j[i], fmt::format("{}[{}]", path, i));
      if (!found.empty()) return found;
    }
  }
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      std::string found = FirstInvalidUtf8(value, path.empty() ? key : path + "." + key);
      if (!found.empty()) return found;
    }
  }
  return {};
}

}  // namespace

Status SerializeControlRequest(const ControlRequest& request, std::string* body) {
  json j;
  j["op"] = ControlOpName(request.op);
  switch (request.op) {
    case ControlOp::kSubmit: {
      json tasks = json::array();
      for (const TaskSpec& spec : request.tasks) tasks.push_back(SpecToJson(spec));
      j["tasks"] = std::move(tasks);
      if (request.sync) j["sync"] = true;
      break;
    }
    case ControlOp::kCancel:
    case ControlOp::kHold:
    case ControlOp::kRelease:
    case ControlOp::kPause:
    case ControlOp::kResume:
    case ControlOp::kRestart:
      j["id"] = request.id;
      break;
    case ControlOp::kKill:
      j["id"] = request.id;
      if (request.signal != 0) j["signal"] = request.signal;
      break;
    case ControlOp::kLogs:
      j["id"] = request.id;
      j["stderr"] = request.stderr_stream;
      if (request.attempt != 0) j["attempt"] = request.attempt;
      break;
    case ControlOp::kGroup:
      j["action"] = request.group_action;
      j["name"] = request.name;
      j["policy"] = PolicyName(request.group.policy);
      j["workers"] = request.group.workers;
      j["max_parallel"] = request.group.max_parallel;
      break;
    default:
      break;
  }
  try {
    *body = j.dump();
  } catch (const json::type_error&) {
    // Bytes that are not UTF-8 (a Latin-1 file name, say) cannot travel as JSON text, and
    // replacing them would run a different command than the one asked for.
    const std::string field = FirstInvalidUtf8(j, "");
    return Status::Invalid(fmt::format(
        "{}: not valid UTF-8; a member's request reaches taskqd as JSON text, so pass the bytes "
        "through a script or an environment variable",
        field.empty() ? "request" : field));
  }
  return Status::Ok();
}

std::string SpecToJsonText(const TaskSpec& spec) { return SpecToJson(spec).dump(); }

Status SpecFromJsonText(std::string_view text, TaskSpec* spec) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Invalid("task: not JSON");
  return SpecFromJson(j, "task", spec);
}

Status WriteFrame(int fd, std::string_view body, int pass_fd) {
  if (body.size() > kMaxControlFrameBytes) {
    return Status::Invalid(fmt::format("request of {} bytes is over the {} byte limit; split it",
                                       body.size(), kMaxControlFrameBytes));
  }
  const uint32_t n = static_cast<uint32_t>(body.size());
  const unsigned char length[4] = {
      static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
      static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
  std::string frame(reinterpret_cast<const char*>(length), 4);
  frame.append(body);
  size_t sent = 0;
  while (sent < frame.size()) {
    iovec iov{frame.data() + sent, frame.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (pass_fd >= 0 && sent == 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    const ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("send");
    }
    sent += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status ReadFrame(int fd, std::string* body, int* received_fd) {
  if (received_fd != nullptr) *received_fd = -1;
  unsigned char length[4];
  size_t got = 0;
  while (got < 4) {
    iovec iov{length + got, 4 - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t r = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("receive");
    if (r == 0) return Status::Unavailable("control socket: the daemon closed the connection");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(c), sizeof(int));
        if (received_fd != nullptr && *received_fd < 0) {
          *received_fd = passed;
        } else {
          ::close(passed);
        }
      }
    }
    got += static_cast<size_t>(r);
  }
  const uint32_t n = uint32_t{length[0]} | uint32_t{length[1]} << 8 | uint32_t{length[2]} << 16 |
                     uint32_t{length[3]} << 24;
  if (n > kMaxControlFrameBytes) return Status::Unavailable("control socket: oversized reply");
  body->resize(n);
  size_t read = 0;
  while (read < n) {
    const ssize_t r = ::read(fd, body->data() + read, n - read);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("receive");
    if (r == 0) return Status::Unavailable("control socket: the daemon closed the connection");
    read += static_cast<size_t>(r);
  }
  return Status::Ok();
}

}  // namespace taskq
