#include "daemon/control_service.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/spawn.h"
#include "common/task_policy.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace taskq {
namespace {

std::string UserName(uid_t uid) {
  struct passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : "uid " + std::to_string(uid);
}

void Answer(ControlReply* reply, const Status& status) {
  reply->body["code"] = status.exit_code();
  if (!status.ok()) reply->body["message"] = status.message();
}

Status NotAdmin(const char* what, const Options& options) {
  std::string who = fmt::format("taskqd's user ({}) and root", UserName(::geteuid()));
  if (!options.admins.empty()) who += fmt::format(" and members of group {}", options.admins);
  return Status::Unavailable(fmt::format("permission denied: {} is for {}", what, who));
}

// The submitter of task `id` when it is in the queue.
Status TaskOwner(Segment& segment, uint64_t id, uint32_t* uid) {
  TaskInfo info;
  if (!segment.Get(id, &info)) {
    return Status::Invalid(fmt::format("no task {} (never submitted, or evicted)", id));
  }
  *uid = info.record.submitter_uid;
  return Status::Ok();
}

Status MayTouch(const ControlPeer& peer, const Options& options, Segment& segment, uint64_t id,
                const char* what) {
  uint32_t owner = 0;
  TASKQ_RETURN_IF_ERROR(TaskOwner(segment, id, &owner));
  if (owner == peer.uid || IsAdmin(peer, options)) return Status::Ok();
  return Status::Unavailable(fmt::format(
      "permission denied: task {} was submitted by {}; {} is for its submitter and the queue's "
      "admins",
      id, UserName(owner), what));
}

Status Submit(const DaemonActions& daemon, const ControlPeer& peer, const ControlRequest& request,
              std::vector<uint64_t>* ids, std::vector<uint8_t>* existing) {
  const Options& rules = *daemon.options;
  for (size_t i = 0; i < request.tasks.size(); ++i) {
    Status allowed = CheckTaskAllowed(request.tasks[i], rules);
    if (allowed.ok()) continue;
    if (request.tasks.size() == 1) return allowed;
    return Status::Invalid(fmt::format("task {} of {}: {}; nothing was submitted", i + 1,
                                       request.tasks.size(), allowed.message()));
  }
  if (rules.max_queued_per_user > 0) {
    const uint64_t queued = daemon.segment->QueuedBy(peer.uid);
    if (queued + request.tasks.size() > rules.max_queued_per_user) {
      return Status::QueueFull(fmt::format(
          "max_queued_per_user: {} has {} queued tasks and may have {}; wait for some to start "
          "(nothing of these {} was submitted)",
          UserName(peer.uid), queued, rules.max_queued_per_user, request.tasks.size()));
    }
  }
  Status submitted = daemon.segment->Submit(request.tasks, ids, peer.uid, existing);
  if (!ids->empty() && daemon.on_work) daemon.on_work();
  // The ids are the answer: under durability sync (or `submit --sync`) they go out only once
  // the tasks are on stable storage.
  if (!ids->empty() && (request.sync || daemon.segment->durability() == Durability::kSync)) {
    TASKQ_RETURN_IF_ERROR(daemon.segment->MakeDurable());
  }
  return submitted;
}

// Opens a task's log for the reader: relative to the logs directory, never through a symlink.
Status OpenLog(const Options& options, Segment& segment, uint64_t id, bool is_stderr,
               uint32_t attempt, int* fd) {
  TaskInfo info;
  if (!segment.Get(id, &info)) return Status::Invalid(fmt::format("no task {}", id));
  if (attempt == 0) attempt = info.record.attempts;  // the latest
  if (attempt > info.record.attempts) {
    return Status::Invalid(fmt::format("--attempt: task {} has run {} time(s); give 1..{}", id,
                                       info.record.attempts, info.record.attempts));
  }
  const int dir =
      ::open((options.state_dir + "/logs").c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return Status::Failed(fmt::format("cannot open the logs: {}", std::strerror(errno)));
  // One attempt only: its logs have the plain name (<id>.1.* exists once a second one started).
  const std::string name = LogName(id, info.record.attempts <= 1 ? 1 : attempt, is_stderr);
  *fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  const int error = errno;
  ::close(dir);
  if (*fd < 0) {
    return Status::Invalid(fmt::format("task {} has no {} log{}", id,
                                       is_stderr ? "stderr" : "stdout",
                                       error == ENOENT ? " (not an exec task, or not started)"
                                                       : ": " + std::string(std::strerror(error))));
  }
  return Status::Ok();
}

}  // namespace

bool IsAdmin(const ControlPeer& peer, const Options& options) {
  if (peer.uid == 0 || peer.uid == ::geteuid()) return true;
  if (options.admins.empty()) return false;
  gid_t admins = static_cast<gid_t>(-1);
  if (!LookUpGroup(options.admins, &admins).ok()) return false;
  return peer.gid == admins ||
         std::find(peer.groups.begin(), peer.groups.end(), admins) != peer.groups.end();
}

void HandleControlRequest(const DaemonActions& daemon, const ControlPeer& peer,
                          const ControlRequest& request, ControlReply* reply) {
  const Options& options = *daemon.options;
  Segment& segment = *daemon.segment;
  if (IsAdminOp(request.op) && !IsAdmin(peer, options)) {
    const std::string what = request.op == ControlOp::kGroup
                                 ? fmt::format("`taskq group {}`", request.group_action)
                                 : fmt::format("`{}`", ControlOpName(request.op));
    spdlog::warn("control: refused {} from {}", ControlOpName(request.op), UserName(peer.uid));
    return Answer(reply, NotAdmin(what.c_str(), options));
  }
  switch (request.op) {
    case ControlOp::kPing:
      return Answer(reply, Status::Ok());
    case ControlOp::kSubmit: {
      std::vector<uint64_t> ids;
      std::vector<uint8_t> existing;
      Status s = Submit(daemon, peer, request, &ids, &existing);
      reply->body["ids"] = ids;
      // Only when --unique found a task: the reply of an ordinary submit stays as it was.
      if (std::find(existing.begin(), existing.end(), 1) != existing.end()) {
        reply->body["existing"] = existing;
      }
      return Answer(reply, s);
    }
    case ControlOp::kCancel: {
      Status s = MayTouch(peer, options, segment, request.id, "cancel");
      if (s.ok()) s = segment.Cancel(request.id);
      if (s.ok()) spdlog::info("task {} cancelled by {}", request.id, UserName(peer.uid));
      return Answer(reply, s);
    }
    case ControlOp::kKill: {
      Status s = MayTouch(peer, options, segment, request.id, "kill");
      const int signal = request.signal != 0 ? request.signal : SIGTERM;
      TaskRecord running{};
      if (s.ok()) {
        s = segment.RequestKill(
            request.id, fmt::format("killed by {} with {}", UserName(peer.uid), SignalName(signal)),
            &running);
      }
      if (!s.ok()) return Answer(reply, s);
      spdlog::info("task {} killed by {} with {}", request.id, UserName(peer.uid),
                   SignalName(signal));
      // Without --signal: SIGTERM, then SIGKILL after kill_grace for a task that ignores it.
      if (daemon.kill) daemon.kill(running, signal, /*escalate=*/request.signal == 0);
      return Answer(reply, s);
    }
    case ControlOp::kHold:
    case ControlOp::kRelease: {
      const bool hold = request.op == ControlOp::kHold;
      Status s = MayTouch(peer, options, segment, request.id, hold ? "hold" : "release");
      if (s.ok()) s = segment.SetHeld(request.id, hold);
      if (!s.ok()) return Answer(reply, s);
      spdlog::info("task {} {} by {}", request.id, hold ? "held" : "released", UserName(peer.uid));
      if (!hold && daemon.on_work) daemon.on_work();  // the process policy starts it now
      return Answer(reply, s);
    }
    case ControlOp::kPause:
    case ControlOp::kResume: {
      const bool pause = request.op == ControlOp::kPause;
      Status s = MayTouch(peer, options, segment, request.id, pause ? "pause" : "resume");
      TaskRecord running{};
      if (s.ok()) s = segment.SetPaused(request.id, pause, &running);
      if (!s.ok()) return Answer(reply, s);
      if (daemon.pause && !daemon.pause(running, pause)) {
        (void)segment.SetPaused(request.id, !pause, &running);  // undo the mark: nothing stopped
        return Answer(reply, Status::Failed(fmt::format(
                                 "task {} cannot be {}: its executor cannot stop and continue it",
                                 request.id, pause ? "paused" : "resumed")));
      }
      spdlog::info("task {} {} by {}", request.id, pause ? "paused" : "resumed",
                   UserName(peer.uid));
      return Answer(reply, s);
    }
    case ControlOp::kRestart: {
      Status s = MayTouch(peer, options, segment, request.id, "restart");
      if (s.ok())
        s = segment.Restart(request.id, fmt::format("restarted by {}", UserName(peer.uid)));
      if (!s.ok()) return Answer(reply, s);
      spdlog::info("task {} restarted by {}", request.id, UserName(peer.uid));
      if (daemon.watch) daemon.watch(request.id);
      if (daemon.on_work) daemon.on_work();  // the process policy starts it now
      return Answer(reply, s);
    }
    case ControlOp::kLogs: {
      Status s = MayTouch(peer, options, segment, request.id, "reading its logs");
      if (s.ok()) {
        s = OpenLog(options, segment, request.id, request.stderr_stream, request.attempt,
                    &reply->fd);
      }
      return Answer(reply, s);
    }
    case ControlOp::kShutdown:
      spdlog::info("shutdown requested by {}", UserName(peer.uid));
      Answer(reply, Status::Ok());
      if (daemon.shutdown) daemon.shutdown();
      return;
    case ControlOp::kReload:
      spdlog::info("reload requested by {}", UserName(peer.uid));
      Answer(reply, Status::Ok());
      if (daemon.reload) daemon.reload();
      return;
    case ControlOp::kRepair: {
      std::vector<std::string> fixes = segment.Repair();
      for (const std::string& fix : fixes) spdlog::warn("segment repaired: {}", fix);
      reply->body["fixes"] = fixes;
      return Answer(reply, Status::Ok());
    }
    case ControlOp::kGroup: {
      Status s;
      if (request.group_action == "add") {
        s = segment.AddGroup(request.name, request.group, /*from_config=*/false, /*update=*/false);
      } else if (request.group_action == "remove") {
        s = segment.RemoveGroup(request.name);
      } else {
        s = segment.SetGroupPaused(request.name, request.group_action == "pause");
      }
      if (s.ok()) {
        spdlog::info("group {} {} by {}", request.name, request.group_action, UserName(peer.uid));
      }
      return Answer(reply, s);
    }
  }
}

}  // namespace taskq
