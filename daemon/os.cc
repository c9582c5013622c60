#include "daemon/os.h"

#include <signal.h>

#include "common/clock.h"
#include "daemon/task_runner.h"

namespace taskq {
namespace {

class RealOs : public Os {
 public:
  Status StartRunner(Segment& segment, const ClaimedTask& task, const Options& options,
                     pid_t supervisor_pid, pid_t* pid) override {
    return ForkTaskRunner(segment, task, options, supervisor_pid, pid);
  }
  void SignalGroup(pid_t group, int signal) override {
    if (group > 0) ::kill(-group, signal);
  }
  uint64_t NowUs() override { return taskq::NowUs(); }
};

}  // namespace

Os& SystemOs() {
  static RealOs os;
  return os;
}

}  // namespace taskq
