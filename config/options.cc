#include "config/options.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

namespace taskq {

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kPool:
      return "pool";
    case Policy::kProcess:
      return "process";
    case Policy::kSlurm:
      return "slurm";
  }
  return "unknown";
}

const char* StorageName(Storage storage) {
  switch (storage) {
    case Storage::kShm:
      return "shm";
    case Storage::kFile:
      return "file";
  }
  return "unknown";
}

bool ParsePolicy(const std::string& text, Policy* policy) {
  for (Policy candidate : {Policy::kPool, Policy::kProcess, Policy::kSlurm}) {
    if (text == PolicyName(candidate)) {
      *policy = candidate;
      return true;
    }
  }
  return false;
}

Options ResolveDefaults(Options options) {
  const std::string uid = std::to_string(geteuid());
  if (options.queue.empty()) options.queue = "taskq-" + uid;
  if (options.state_dir.empty()) {
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    if (runtime_dir != nullptr && runtime_dir[0] != '\0') {
      options.state_dir = std::string(runtime_dir) + "/taskq/" + options.queue;
    } else {
      options.state_dir = "/tmp/taskq-" + uid + "/" + options.queue;
    }
  }
  if (options.workers == 0) {
    // hardware_concurrency() may return 0 when the count is unknown.
    options.workers = std::max(1u, std::thread::hardware_concurrency());
  }
  if (options.io_root.empty()) options.io_root = options.state_dir + "/io";
  // Group members must be able to open the segment, or `group` would have no effect.
  if (!options.group.empty() && options.mode == 0600) options.mode = 0660;
  return options;
}

}  // namespace taskq
