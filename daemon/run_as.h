// `run_as: submitter` (docs/SECURITY.md): a task runs with its verified submitter's identity
// instead of taskqd's. Exec tasks switch in the spawned child (common/spawn.cc); io tasks run in
// a forked child that switches first and writes beneath <io_root>/<user name>/, a directory the
// user owns; the built-in cpu kernel touches nothing but memory and runs where it is.
#pragma once

#include <cstdint>
#include <optional>

#include "common/options.h"
#include "common/segment.h"
#include "daemon/task_runner.h"

namespace taskq {

// The uid `task` must run as when it is not taskqd's own, else nullopt. The uid is the one the
// daemon recorded from SO_PEERCRED (only taskqd's user writes the queue).
std::optional<uint32_t> RunAsUid(const ClaimedTask& task, const Options& options);

// Runs a cpu or io task: in this process (RunBuiltinInProcess), or for an io task of another
// user under `run_as: submitter`, in a child that has become that user.
TaskOutcome RunBuiltin(const ClaimedTask& task, const Options& options, UsageMark* mark = nullptr);

}  // namespace taskq
