// Status is how every function in common/, config/ and daemon/ reports failure: a code that maps
// onto the CLI's exit codes and a one-line message that names the thing and the fix. Messages
// quote user input, so control characters in them are escaped on construction (common/text.h): a
// message is always one line and never carries a terminal escape sequence.
#pragma once

#include <string>
#include <utility>

#include "common/text.h"

namespace taskq {

// The numeric values are the documented exit codes of `taskq` (README "Exit codes").
enum class StatusCode : int {
  kOk = 0,
  kFailed = 1,       // a task (or an operation on the system) did not succeed
  kInvalid = 2,      // usage or bad input: arguments, YAML, task specs
  kUnavailable = 3,  // no daemon, no segment, or a segment we refuse to attach
  kQueueFull = 4,    // the segment has no free slot
  kTimedOut = 5,     // a wait ran out of time
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Failed(std::string m) { return Status(StatusCode::kFailed, std::move(m)); }
  static Status Invalid(std::string m) { return Status(StatusCode::kInvalid, std::move(m)); }
  static Status Unavailable(std::string m) {
    return Status(StatusCode::kUnavailable, std::move(m));
  }
  static Status QueueFull(std::string m) { return Status(StatusCode::kQueueFull, std::move(m)); }
  static Status TimedOut(std::string m) { return Status(StatusCode::kTimedOut, std::move(m)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  int exit_code() const { return static_cast<int>(code_); }
  const std::string& message() const { return message_; }

 private:
  Status(StatusCode code, std::string message)
      : code_(code), message_(HasControl(message) ? EscapeControl(message) : std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Returns early from the calling function when `expr` is not ok.
#define TASKQ_RETURN_IF_ERROR(expr)    \
  do {                                 \
    ::taskq::Status status_ = (expr);  \
    if (!status_.ok()) return status_; \
  } while (0)

}  // namespace taskq
