// What the daemon does for each control request (common/control_protocol.h), and who may ask.
// Identity is the kernel's (ControlPeer); the task's submitter is read from the queue, which only
// the daemon's user writes. Rights (docs/SECURITY.md):
//   - anyone who can connect (the socket is the `group`'s): submit, ping;
//   - the task's submitter or an admin: cancel, kill, hold, release, logs;
//   - admins only: shutdown, group add|remove|pause|resume, repair, reload.
// Admins are root, taskqd's own user and members of the `admins:` group.
#pragma once

#include <functional>

#include "common/control_protocol.h"
#include "common/options.h"
#include "common/segment.h"
#include "daemon/control_server.h"

namespace taskq {

struct DaemonActions {
  Segment* segment = nullptr;
  const Options* options = nullptr;  // the configuration in force
  std::function<void()> on_work;     // new tasks: wake the executors that need a wake
  std::function<void()> shutdown;
  std::function<void()> reload;
  // `taskq kill`: the task (its record copied after the kill was marked) is to get `signal`, and
  // SIGKILL after kill_grace when `escalate`.
  std::function<void(const TaskRecord& running, int signal, bool escalate)> kill;
  // `taskq pause` / `resume`: the task (its record copied after the mark changed) is to be
  // stopped or continued; false when no executor of this daemon can (the mark is then undone).
  std::function<bool(const TaskRecord& running, bool pause)> pause;
  // A restarted task: the completion hooks look for its next end.
  std::function<void(uint64_t id)> watch;
};

bool IsAdmin(const ControlPeer& peer, const Options& options);

void HandleControlRequest(const DaemonActions& daemon, const ControlPeer& peer,
                          const ControlRequest& request, ControlReply* reply);

}  // namespace taskq
