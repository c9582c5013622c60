// Who taskqd runs as and who may open its queue: the `user` and `group` settings, applied before
// the segment or any file is created (docs/SECURITY.md).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/options.h"
#include "common/status.h"

namespace taskq {

// Root with `user: ""` is refused (tasks would run as root by accident); root with `user: root`
// stays root, an explicit choice; root with another user switches to it (initgroups, setgid,
// setuid) and checks that it cannot switch back. A non-root taskqd accepts `user` only when it
// names itself. *switched is set when the uid changed: resolve the defaults again then.
Status SwitchUser(const Options& resolved, bool* switched);

// Gives `path` to the queue's group (no-op without one). kUnavailable with the path and errno.
Status GiveToGroup(const std::string& path, const Options& resolved);

}  // namespace taskq
