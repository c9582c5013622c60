#include "daemon/os.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/spawn.h"
#include "daemon/fork_child.h"
#include "daemon/recovery.h"
#include "daemon/task_runner.h"
#include "daemon/worker.h"
#include "fmt/format.h"

namespace taskq {
namespace {

class RealOs : public Os {
 public:
  Status StartRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                     pid_t supervisor_pid, pid_t* pid) override {
    return ForkTaskRunner(segment, task, options, supervisor_pid, pid);
  }
  Status StartWorker(const Options& options, uint32_t row, uint32_t group, pid_t supervisor_pid,
                     pid_t* pid) override {
    // A fork, not an exec of taskqd: the worker starts with these options as they are (no
    // YAML to read again) and shares the supervisor's pages (idle RSS, docs/PERFORMANCE.md).
    // It stays in the daemon's process group: ^C reaches it too.
    const pid_t child = ForkCleanChild(supervisor_pid, /*new_session=*/false);
    if (child == 0) _exit(WorkerMain(options, row, group));
    if (child < 0) return Status::Failed(fmt::format("fork: {}", std::strerror(errno)));
    *pid = child;
    return Status::Ok();
  }
  Status StartHelper(const SpawnRequest& request, pid_t* pid) override {
    return Spawn(request, pid);
  }
  void SignalGroup(pid_t group, int signal) override {
    if (group > 1) ::kill(-group, signal);
  }
  void SignalProcess(pid_t pid, int signal) override {
    if (pid > 1) ::kill(pid, signal);
  }
  bool KillTaskGroup(pid_t leader) override { return taskq::KillTaskGroup(leader); }
  uint64_t NowUs() override { return taskq::NowUs(); }
  uint64_t MonotonicUs() override { return taskq::MonotonicUs(); }
};

}  // namespace

Os& SystemOs() {
  static RealOs os;
  return os;
}

}  // namespace taskq
