// The wire format between taskqd and its Slurm pilots (taskq-worker), docs/SCALE-OUT.md "Pilot
// protocol". A TCP stream of frames: a 4-byte big-endian length, then that many bytes, either
// 'J' and one JSON object (hello, welcome, lease, result, heartbeat, idle, stop, kill), or 'O'/'E'
// and an 8-byte big-endian task id and a piece of that task's stdout/stderr.
// A pilot proves who it is with the per-pilot secret taskqd gave its job (hello); nothing else in
// a frame (no path, pid or uid) is trusted.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/segment.h"

namespace taskq {

inline constexpr uint32_t kMaxFrameBytes = 8u << 20;  // a lease of many tasks with big argv
inline constexpr uint32_t kMaxHelloBytes = 4096;      // before authentication
inline constexpr size_t kPilotSecretBytes = 32;

struct Frame {
  char kind = 'J';  // 'J' JSON, 'O' stdout, 'E' stderr
  nlohmann::json json;
  uint64_t task_id = 0;
  std::string data;
};

std::string EncodeJsonFrame(const nlohmann::json& message);
std::string EncodeOutputFrame(char stream, uint64_t task_id, std::string_view data);
// The body length a 4-byte header announces.
uint32_t FrameLength(const unsigned char header[4]);
// The body after the length; false when malformed.
bool DecodeFrameBody(std::string_view body, Frame* frame);

// kPilotSecretBytes from getrandom(2), as hex. Empty when the kernel gives no randomness.
std::string NewPilotSecret();
// Compares in time that depends only on the lengths, not on where the texts differ.
bool SecretsEqual(std::string_view a, std::string_view b);

// One task as a pilot runs it. kind exec: argv is the command; cpu/io: argv is taskq-run's
// arguments after the program ("cpu --count N ..."), the pilot adds its own taskq-run.
struct PilotTask {
  uint64_t id = 0;
  std::string kind;  // exec | cpu | io
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  uint64_t timeout_ms = 0;
};
nlohmann::json PilotTaskToJson(const PilotTask& task);
bool PilotTaskFromJson(const nlohmann::json& j, PilotTask* task);

// A finished task as the pilot reports it.
nlohmann::json OutcomeToJson(uint64_t id, const TaskOutcome& outcome);
bool OutcomeFromJson(const nlohmann::json& j, uint64_t* id, TaskOutcome* outcome);

}  // namespace taskq
