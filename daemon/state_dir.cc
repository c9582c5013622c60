#include "daemon/state_dir.h"

#include <fcntl.h>
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
  if ((mode & 0070) != 0) {
    TASKQ_RETURN_IF_ERROR(GiveToGroup(path, resolved));
  }
  if (::chmod(path.c_str(), mode) != 0) {
    return Status::Unavailable(
        fmt::format("cannot set mode {:04o} on {}: {}", mode, path, std::strerror(errno)));
  }
  return Status::Ok();
}

// The directories above the state directory must not let another user swap a component: each
// one must belong to root or to taskqd's user and be writable by no one else, unless it is
// root's and sticky (like /tmp), where no one can rename what another user made. A squatter who
// pre-creates /tmp/taskq-<uid> (mode 0777) is refused here, and a missing one is created fresh.
Status CheckParents(const std::string& state_dir) {
  std::filesystem::path path = std::filesystem::path(state_dir).lexically_normal();
  std::vector<std::filesystem::path> chain;
  for (std::filesystem::path p = path.parent_path(); !p.empty(); p = p.parent_path()) {
    chain.push_back(p);
    if (p == p.root_path()) break;
  }
  chain.insert(chain.begin(), path);
  for (const std::filesystem::path& p : chain) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;  // created below, by us
    if (S_ISLNK(st.st_mode)) {
      return Status::Unavailable(fmt::format(
          "{} is a symlink: refusing a state directory path another user could redirect; set "
          "`state_dir` to a path without symlinks",
          p.string()));
    }
    const bool ours = st.st_uid == ::geteuid() || st.st_uid == 0;
    const bool others_write = (st.st_mode & 0022) != 0;
    const bool sticky_root = st.st_uid == 0 && (st.st_mode & S_ISVTX) != 0;
    if (!ours || (others_write && !sticky_root)) {
      return Status::Unavailable(
          fmt::format("{} belongs to uid {} with mode {:04o}: another user could replace the state "
                      "directory; remove it (it will be created fresh) or set `state_dir`",
                      p.string(), st.st_uid, st.st_mode & 07777));
    }
  }
  return Status::Ok();
}

}  // namespace

Status PrepareStateDir(const Options& resolved) {
  // Only taskqd's user writes anywhere in the state directory. With a group, members may enter
  // it (0750: the control socket and effective.yaml are theirs to use and read) but never
  // create, rename or replace anything; logs/ and io/ stay owner-only (0700): a member reads
  // the logs of its own tasks through the control socket, which checks who submitted them.
  const mode_t dir_mode = resolved.group.empty() ? 0700 : 0750;
  TASKQ_RETURN_IF_ERROR(CheckParents(resolved.state_dir));
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir, dir_mode, resolved, true));
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir + "/logs", 0700, resolved, true));
  // With `run_as: submitter`, members reach their own io/<user name>/ (theirs, 0700) through it.
  const mode_t io_mode = resolved.run_as == "submitter" && !resolved.group.empty() ? 0710 : 0700;
  TASKQ_RETURN_IF_ERROR(MakeDir(resolved.state_dir + "/io", io_mode, resolved, true));
  const bool io_root_is_ours = resolved.io_root == resolved.state_dir + "/io";
  if (!io_root_is_ours) TASKQ_RETURN_IF_ERROR(MakeDir(resolved.io_root, 0700, resolved, false));
  return Status::Ok();
}

Status WriteEffectiveConfig(const Options& resolved, const std::string& path) {
  // Written beside the other state files, relative to the directory's descriptor and never
  // through a symlink: a fresh temporary file (O_EXCL), then renamed over the old one.
  gid_t gid = static_cast<gid_t>(-1);
  TASKQ_RETURN_IF_ERROR(LookUpGroup(resolved.group, &gid));
  const std::filesystem::path target(path);
  const std::string dir_path = target.parent_path().string();
  const std::string name = target.filename().string();
  const std::string temp = name + ".tmp";
  const int dir = ::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) {
    return Status::Unavailable(fmt::format("cannot open {}: {}", dir_path, std::strerror(errno)));
  }
  auto fail = [&](const std::string& what) {
    const int error = errno;
    ::unlinkat(dir, temp.c_str(), 0);
    ::close(dir);
    return Status::Unavailable(
        fmt::format("cannot {} {}/{}: {}", what, dir_path, temp, std::strerror(error)));
  };
  ::unlinkat(dir, temp.c_str(), 0);
  const int fd = ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          static_cast<mode_t>(resolved.mode & 0640));
  if (fd < 0) return fail("create");
  const std::string text =
      "# Written by taskqd: the configuration in force (file, overrides and defaults).\n" +
      OptionsToYaml(resolved);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      ::close(fd);
      return fail("write");
    }
    written += static_cast<size_t>(n);
  }
  // Group members read it too: clients check submissions against the daemon's own rules.
  if ((gid != static_cast<gid_t>(-1) && ::fchown(fd, static_cast<uid_t>(-1), gid) != 0) ||
      ::fchmod(fd, static_cast<mode_t>(resolved.mode & 0640)) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("set up");
  }
  if (::close(fd) != 0) return fail("close");
  if (::renameat(dir, temp.c_str(), dir, name.c_str()) != 0) return fail("rename");
  ::close(dir);
  return Status::Ok();
}

std::vector<std::string> RestartOnlyChanges(const Options& before, const Options& after) {
  std::vector<std::string> changed;
  if (before.queue != after.queue) changed.push_back("queue");
  if (before.storage != after.storage) changed.push_back("storage");
  if (before.durability != after.durability) changed.push_back("durability");
  if (before.state_dir != after.state_dir) changed.push_back("state_dir");
  if (before.capacity != after.capacity) changed.push_back("capacity");
  if (before.mode != after.mode) changed.push_back("mode");
  if (before.group != after.group) changed.push_back("group");
  if (before.user != after.user) changed.push_back("user");
  if (before.run_as != after.run_as) changed.push_back("run_as");
  if (before.io_root != after.io_root) changed.push_back("security.io_root");
  if (before.metrics_listen != after.metrics_listen) changed.push_back("metrics_listen");
  return changed;
}

void KeepRestartOnlyFields(const Options& running, Options* next) {
  next->queue = running.queue;
  next->storage = running.storage;
  next->durability = running.durability;
  next->state_dir = running.state_dir;
  next->capacity = running.capacity;
  next->mode = running.mode;
  next->group = running.group;
  next->user = running.user;
  next->run_as = running.run_as;
  next->io_root = running.io_root;
  next->metrics_listen = running.metrics_listen;
}

bool RunnerSettingsDiffer(const Options& a, const Options& b) {
  return a.policy != b.policy || a.workers != b.workers || a.max_parallel != b.max_parallel ||
         a.max_tasks_per_worker != b.max_tasks_per_worker || a.kill_grace_ms != b.kill_grace_ms ||
         a.leftovers != b.leftovers || a.exec_enabled != b.exec_enabled ||
         a.exec_allow != b.exec_allow || a.env_allow != b.env_allow ||
         a.max_cpu_count != b.max_cpu_count || a.max_io_bytes != b.max_io_bytes ||
         a.limits.cpu_seconds != b.limits.cpu_seconds ||
         a.limits.address_space_mb != b.limits.address_space_mb ||
         a.limits.open_files != b.limits.open_files || a.limits.output_mb != b.limits.output_mb ||
         a.log_level != b.log_level ||  // pool workers set their log level at start
         !(a.slurm == b.slurm);
}

}  // namespace taskq
