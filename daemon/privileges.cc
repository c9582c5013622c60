#include "daemon/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fmt/format.h"

namespace taskq {

Status GiveToGroup(const std::string& path, const Options& resolved) {
  gid_t gid;
  TASKQ_RETURN_IF_ERROR(LookUpGroup(resolved.group, &gid));
  if (gid == static_cast<gid_t>(-1)) return Status::Ok();
  if (::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return Status::Unavailable(
        fmt::format("cannot give {} to group '{}': {}; taskqd's user must be a member of the group",
                    path, resolved.group, std::strerror(errno)));
  }
  return Status::Ok();
}

Status SwitchUser(const Options& resolved, bool* switched) {
  *switched = false;
  const uid_t me = ::geteuid();
  if (me != 0) {
    if (resolved.user.empty()) return Status::Ok();
    struct passwd* self = ::getpwuid(me);
    if ((self != nullptr && resolved.user == self->pw_name) ||
        resolved.user == std::to_string(me)) {
      return Status::Ok();
    }
    return Status::Invalid(fmt::format(
        "user: taskqd runs as uid {} and cannot switch to '{}' (only root can); start it as "
        "that user, or as root",
        me, resolved.user));
  }
  if (resolved.user.empty()) {
    return Status::Invalid(
        "user: taskqd runs as root but no `user` is configured: tasks would run as root. Set "
        "`user: taskq` (an unprivileged account to switch to), or `user: root` to run tasks as "
        "root on purpose");
  }
  if (resolved.user == "root" || resolved.user == "0") return Status::Ok();
  std::vector<char> buffer(16384);
  struct passwd entry {};
  struct passwd* found = nullptr;
  getpwnam_r(resolved.user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return Status::Invalid(fmt::format(
        "user: '{}' does not exist; create it (useradd --system {}) or fix the `user` setting",
        resolved.user, resolved.user));
  }
  // Order matters: groups and gid while still root, the uid last.
  if (::initgroups(found->pw_name, found->pw_gid) != 0 || ::setgid(found->pw_gid) != 0 ||
      ::setuid(found->pw_uid) != 0) {
    return Status::Unavailable(
        fmt::format("cannot switch to user '{}': {}", resolved.user, std::strerror(errno)));
  }
  if (found->pw_uid != 0 && ::setuid(0) == 0) {
    return Status::Unavailable(fmt::format(
        "switched to user '{}' but could become root again: refusing to run", resolved.user));
  }
  // Defaults that name the home or the uid (state_dir, queue) must follow the new user.
  ::setenv("HOME", found->pw_dir, 1);
  ::setenv("USER", found->pw_name, 1);
  ::setenv("LOGNAME", found->pw_name, 1);
  ::unsetenv("XDG_RUNTIME_DIR");
  *switched = true;
  return Status::Ok();
}

}  // namespace taskq
