// Fuzz target: the body of one control-socket request (common/control_protocol.h), the bytes a
// group member sends the daemon. Any bytes must parse into a request whose fields have their
// types and ranges, or fail with a one-line error without control characters; an accepted
// request must serialize and parse back to the same request, and its tasks must encode into
// records and decode back. Never crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/control_protocol.h"
#include "common/task.h"
#include "common/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  taskq::ControlRequest request;
  const taskq::Status status = taskq::ParseControlRequest(body, &request);
  if (!status.ok()) {
    if (taskq::HasControl(status.message()) || status.message().empty()) std::abort();
    return 0;
  }
  taskq::ControlRequest again;
  std::string text;
  if (!taskq::SerializeControlRequest(request, &text).ok() ||
      !taskq::ParseControlRequest(text, &again).ok()) {
    std::abort();
  }
  if (again.op != request.op || again.id != request.id || again.signal != request.signal ||
      again.name != request.name || again.tasks.size() != request.tasks.size() ||
      again.group_action != request.group_action || again.stderr_stream != request.stderr_stream ||
      again.group.policy != request.group.policy || again.group.workers != request.group.workers ||
      again.group.max_parallel != request.group.max_parallel) {
    std::abort();
  }
  for (const taskq::TaskSpec& spec : request.tasks) {
    taskq::TaskRecord record{};
    if (!taskq::EncodeSpec(spec, &record).ok()) continue;  // too big for a record: refused later
    taskq::TaskSpec decoded;
    if (!taskq::DecodeSpec(record, &decoded).ok() || decoded.kind != spec.kind ||
        decoded.hold != spec.hold) {
      std::abort();
    }
  }
  return 0;
}
