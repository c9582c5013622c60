#include "daemon/state_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/load.h"
#include "daemon/privileges.h"
#include "fmt/format.h"

namespace taskq {
namespace {

// Creates `path` (and missing parents), then makes sure it is a real directory of ours, not a
// symlink or a directory someone else prepared (in /tmp anyone may create the name first).
Status MakeDir(const std::string& path, mode_t mode, const Options& resolved, bool must_own) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return Status::Unavailable(
        fmt::format("cannot create state directory {}: {}; set `state_dir` to a writable place",
                    path, ec.message()));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Unavailable(fmt::format(
        "{} is not a directory (a symlink?): refusing it; remove it or set `state_dir`", path));
  }
  if (must_own && st.st_uid != ::geteuid()) {
    return Status::Unavailable(fmt::format(
        "{} belongs to uid {}, not to taskqd's uid {}: refusing a directory someone else "
        "created; remove it or set `state_dir`",
        path, st.st_uid, ::geteuid()));
  }
  if (!must_own) return Status::Ok();  // io_root may be shared: leave its mode to its owner
  TASKQ_RETURN_IF_ERROR(GiveToGroup(path, resolved));
  ::chmod(path.c_str(), mode);  // after chown, which may clear the set-group-id bit
  return Status::Ok();
}

}  // namespace

Status PrepareStateDir(const Options& resolved) {
  // Directories get x where files get r: 0600 -> 0700, 0660 -> 0770. With a group they are
  // set-group-id, so the logs and files created inside belong to the group too.
  mode_t dir_mode = resolved.mode | ((resolved.mode & 0444) >> 2);
  if (!resolved.group.empty()) dir_mode |= S_ISGID;
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir, dir_mode, resolved, true));
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir + "/logs", dir_mode, resolved, true));
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir + "/io", dir_mode, resolved, true));
  const bool io_root_is_ours = resolved.io_root == resolved.state_dir + "/io";
  if (!io_root_is_ours) TASKQ_RETURN_IF_ERROR(MakeDir(resolved.io_root, dir_mode, resolved, false));
  return Status::Ok();
}

Status WriteEffectiveConfig(const Options& resolved, const std::string& path) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << "# Written by taskqd: the configuration in force (file, overrides and defaults).\n"
        << OptionsToYaml(resolved);
    if (!out) {
      return Status::Unavailable(fmt::format("cannot write {}: {}", temp, std::strerror(errno)));
    }
  }
  // Group members read it too: clients check submissions against the daemon's own rules.
  ::chmod(temp.c_str(), static_cast<mode_t>(resolved.mode & 0640));
  TASKQ_RETURN_IF_ERROR(GiveToGroup(temp, resolved));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable(
        fmt::format("cannot rename {} to {}: {}", temp, path, std::strerror(errno)));
  }
  return Status::Ok();
}

std::vector<std::string> RestartOnlyChanges(const Options& before, const Options& after) {
  std::vector<std::string> changed;
  if (before.queue != after.queue) changed.push_back("queue");
  if (before.storage != after.storage) changed.push_back("storage");
  if (before.state_dir != after.state_dir) changed.push_back("state_dir");
  if (before.capacity != after.capacity) changed.push_back("capacity");
  if (before.mode != after.mode) changed.push_back("mode");
  if (before.group != after.group) changed.push_back("group");
  if (before.user != after.user) changed.push_back("user");
  if (before.io_root != after.io_root) changed.push_back("security.io_root");
  if (before.metrics_listen != after.metrics_listen) changed.push_back("metrics_listen");
  return changed;
}

void KeepRestartOnlyFields(const Options& running, Options* next) {
  next->queue = running.queue;
  next->storage = running.storage;
  next->state_dir = running.state_dir;
  next->capacity = running.capacity;
  next->mode = running.mode;
  next->group = running.group;
  next->user = running.user;
  next->io_root = running.io_root;
  next->metrics_listen = running.metrics_listen;
}

bool RunnerSettingsDiffer(const Options& a, const Options& b) {
  return a.policy != b.policy || a.workers != b.workers || a.max_parallel != b.max_parallel ||
         a.max_tasks_per_worker != b.max_tasks_per_worker || a.kill_grace_ms != b.kill_grace_ms ||
         a.exec_enabled != b.exec_enabled || a.exec_allow != b.exec_allow ||
         a.env_allow != b.env_allow || a.max_cpu_count != b.max_cpu_count ||
         a.max_io_bytes != b.max_io_bytes || a.limits.cpu_seconds != b.limits.cpu_seconds ||
         a.limits.address_space_mb != b.limits.address_space_mb ||
         a.limits.open_files != b.limits.open_files || a.limits.output_mb != b.limits.output_mb ||
         a.log_level != b.log_level ||  // pool workers set their log level at start
         !(a.slurm == b.slurm);
}

}  // namespace taskq
