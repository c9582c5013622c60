#include "common/pilot_protocol.h"

#include <sys/random.h>

#include "common/json_text.h"
#include "fmt/format.h"

namespace taskq {
namespace {

void PutBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

std::string WrapFrame(char kind, std::string_view body_after_kind) {
  std::string out;
  PutBigEndian(body_after_kind.size() + 1, 4, &out);
  out.push_back(kind);
  out.append(body_after_kind);
  return out;
}

bool StringList(const nlohmann::json& j, const char* key, std::vector<std::string>* out) {
  if (!j.contains(key) || !j[key].is_array()) return false;
  out->clear();
  for (const auto& item : j[key]) {
    if (!item.is_string()) return false;
    out->push_back(item.get<std::string>());
  }
  return true;
}

uint64_t Number(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
}

}  // namespace

std::string EncodeJsonFrame(const nlohmann::json& message) {
  return WrapFrame('J', JsonText(message));
}

std::string EncodeOutputFrame(char stream, uint64_t task_id, std::string_view data) {
  std::string body;
  PutBigEndian(task_id, 8, &body);
  body.append(data);
  return WrapFrame(stream, body);
}

uint32_t FrameLength(const unsigned char header[4]) {
  return static_cast<uint32_t>(
      GetBigEndian(std::string_view(reinterpret_cast<const char*>(header), 4), 4));
}

bool DecodeFrameBody(std::string_view body, Frame* frame) {
  if (body.empty()) return false;
  frame->kind = body[0];
  if (frame->kind == 'J') {
    frame->json = nlohmann::json::parse(body.substr(1), nullptr, false);
    return frame->json.is_object() && frame->json.contains("type") &&
           frame->json["type"].is_string();
  }
  if ((frame->kind == 'O' || frame->kind == 'E') && body.size() >= 9) {
    frame->task_id = GetBigEndian(body.substr(1), 8);
    frame->data.assign(body.substr(9));
    return true;
  }
  return false;
}

std::string NewPilotSecret() {
  unsigned char bytes[kPilotSecretBytes];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n <= 0) return "";
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

bool SecretsEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  volatile unsigned char differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    differ = differ | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return differ == 0;
}

nlohmann::json PilotTaskToJson(const PilotTask& task) {
  return {{"id", task.id},   {"kind", task.kind}, {"argv", task.argv},
          {"env", task.env}, {"cwd", task.cwd},   {"timeout_ms", task.timeout_ms}};
}

bool PilotTaskFromJson(const nlohmann::json& j, PilotTask* task) {
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string() || !j.contains("cwd") ||
      !j["cwd"].is_string()) {
    return false;
  }
  task->id = Number(j, "id");
  task->kind = j["kind"].get<std::string>();
  task->cwd = j["cwd"].get<std::string>();
  task->timeout_ms = Number(j, "timeout_ms");
  return task->id != 0 && StringList(j, "argv", &task->argv) && !task->argv.empty() &&
         StringList(j, "env", &task->env) &&
         (task->kind == "exec" || task->kind == "cpu" || task->kind == "io");
}

nlohmann::json OutcomeToJson(uint64_t id, const TaskOutcome& o) {
  return {{"type", "result"},
          {"id", id},
          {"state", TaskStateName(o.state)},
          {"exit_code", o.exit_code},
          {"signal", o.signal},
          {"user_us", o.user_us},
          {"sys_us", o.sys_us},
          {"max_rss_kb", o.max_rss_kb},
          {"read_bytes", o.read_bytes},
          {"write_bytes", o.write_bytes},
          {"vol_ctxsw", o.vol_ctxsw},
          {"invol_ctxsw", o.invol_ctxsw},
          {"checksum", o.result_checksum},
          {"count", o.result_count},
          {"reason", o.reason}};
}

bool OutcomeFromJson(const nlohmann::json& j, uint64_t* id, TaskOutcome* o) {
  if (!j.contains("state") || !j["state"].is_string()) return false;
  if (!ParseTaskState(j["state"].get<std::string>(), &o->state)) return false;
  if (o->state != TaskState::kSucceeded && o->state != TaskState::kFailed &&
      o->state != TaskState::kLost) {
    return false;  // a pilot reports how a run ended; cancelled/timed_out are taskqd's verdicts
  }
  *id = Number(j, "id");
  auto int_of = [&](const char* key) {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<int32_t>() : 0;
  };
  o->exit_code = int_of("exit_code");
  o->signal = int_of("signal");
  o->user_us = Number(j, "user_us");
  o->sys_us = Number(j, "sys_us");
  o->max_rss_kb = Number(j, "max_rss_kb");
  o->read_bytes = Number(j, "read_bytes");
  o->write_bytes = Number(j, "write_bytes");
  o->vol_ctxsw = Number(j, "vol_ctxsw");
  o->invol_ctxsw = Number(j, "invol_ctxsw");
  o->result_checksum = Number(j, "checksum");
  o->result_count = Number(j, "count");
  o->reason = j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : "";
  return *id != 0;
}

}  // namespace taskq
