// The control protocol: how users other than the daemon's own change a queue (docs/SECURITY.md).
// They map the segment read-only, so submit, cancel, ping and the administrative commands go to
// the daemon over a Unix stream socket, `<state_dir>/control.sock`. The daemon learns who asks
// from the kernel (SO_PEERCRED), never from the request, validates every field, and copies
// accepted tasks into the queue itself.
//
// Wire format, both ways: a frame is a 4-byte little-endian length, then that many bytes of one
// JSON object. A request is {"op": NAME, ...fields}; a reply is {"code": C, "message": M, ...}
// where C is a StatusCode (0 ok). A `logs` reply carries the log file's descriptor
// (SCM_RIGHTS) with its frame.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/task.h"

namespace taskq {

inline constexpr uint32_t kMaxControlFrameBytes = 16u << 20;  // a batch of ~40,000 tasks
inline constexpr size_t kMaxTasksPerRequest = 100000;

std::string ControlSocketPath(const std::string& state_dir);

enum class ControlOp {
  kSubmit,    // tasks
  kCancel,    // id
  kPing,      //
  kLogs,      // id, stderr
  kShutdown,  // (admin)
  kGroup,     // group_action, name, group settings (admin)
  kRepair,    // (admin)
  kReload,    // (admin)
  kKill,      // id, signal
  kHold,      // id
  kRelease,   // id
  kPause,     // id
  kResume,    // id
  kRestart,   // id
};

struct ControlRequest {
  ControlOp op = ControlOp::kPing;
  std::vector<TaskSpec> tasks;
  uint64_t id = 0;
  int signal =
      0;  // kill: one of common/kill_signal.h's; 0 = SIGTERM, then SIGKILL after kill_grace
  bool stderr_stream = false;
  bool sync = false;     // submit: answer once the tasks are on stable storage (`submit --sync`)
  uint32_t attempt = 0;  // logs: which attempt's (0 = the latest)
  std::string group_action;  // add | remove | pause | resume
  std::string name;
  GroupSettings group;
};

const char* ControlOpName(ControlOp op);
// True for the operations only the daemon's user, root and the `admins` group may ask for.
bool IsAdminOp(ControlOp op);

// Parses one request frame's JSON body. Any bytes either parse into a request whose every field
// has its type and range, or fail with a one-line message naming the field.
Status ParseControlRequest(std::string_view body, ControlRequest* request);
// The JSON body of a request (the client side). Fails, naming the field ("tasks[0].argv[2]"),
// when a string in it is not valid UTF-8.
Status SerializeControlRequest(const ControlRequest& request, std::string* body);

// The task spec as JSON, and back (strict: unknown keys and wrong types are refused).
std::string SpecToJsonText(const TaskSpec& spec);
Status SpecFromJsonText(std::string_view text, TaskSpec* spec);

// Frames over a blocking descriptor (the client side; the daemon frames with Boost.Asio).
Status WriteFrame(int fd, std::string_view body, int pass_fd = -1);
// Reads one frame; `received_fd` (when not null) gets a descriptor passed with it, else -1.
Status ReadFrame(int fd, std::string* body, int* received_fd = nullptr);

}  // namespace taskq
