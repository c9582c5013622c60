// Fuzz target: one line of `taskq submit --batch`. Any bytes must parse into a spec that
// encodes into a task record and decodes back, or fail with a one-line error that carries no
// control character (no forged lines, no terminal escapes); never crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/submit_args.h"
#include "common/task.h"
#include "common/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  taskq::TaskSpec spec;
  bool skip = false;
  const taskq::Status status = taskq::ParseBatchLine(line, "/tmp", &spec, &skip);
  if (!status.ok()) {
    if (taskq::HasControl(status.message())) std::abort();
    return 0;
  }
  if (skip) return 0;
  taskq::TaskRecord record{};
  if (!taskq::EncodeSpec(spec, &record).ok()) return 0;  // too big for a record: refused cleanly
  taskq::TaskSpec decoded;
  if (!taskq::DecodeSpec(record, &decoded).ok()) std::abort();
  if (decoded.kind != spec.kind) std::abort();
  return 0;
}
