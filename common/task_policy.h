// What a submission may make the daemon do (the `security:` settings), checked twice with the
// same code: by the client at submit (exit 2, nothing enters the queue) and by the runner just
// before it runs a task (the segment is writable by every submitter, so a client can be
// bypassed; the task then fails with the reason). docs/SECURITY.md has the threat model.
#pragma once

#include <string>

#include "common/options.h"
#include "common/status.h"
#include "common/task.h"

namespace taskq {

// kInvalid naming the offending field (`--count`, `--path`, `--env`, `exec`) and the setting
// that forbids it, or Ok. Only looks at the spec and `resolved` (no file system access).
Status CheckTaskAllowed(const TaskSpec& spec, const Options& resolved);

// The path an `io` task's --path names, relative to io_root: "" for the default path, else a
// path without "." or ".." components. kInvalid when it is absolute but not beneath io_root, or
// climbs out with "..".
Status IoPathBeneathRoot(const std::string& path, const std::string& io_root,
                         std::string* relative);

// True when `executable` (argv[0]) matches one of the allow-list entries: an absolute path or an
// fnmatch(3) glob with FNM_PATHNAME ('*' never crosses a '/').
bool ExecutableAllowed(const std::string& executable, const std::vector<std::string>& allow);

}  // namespace taskq
