// Runners a supervisor did not start: the previous supervisor's exec runners (a pool worker
// keeping its command, or a `process` runner) that outlived it — after a crash, or a stop with
// `keep_running` — and go on waiting for their command, to record its result themselves. A new
// supervisor adopts them instead of killing them (RecoverOrphans finds them, by a pidfd opened
// on the recorded pid and checked against the process's start time, never the pid alone),
// watches each pidfd, and steers their tasks: `taskq kill` and `pause` signal the command's
// group, shutdown kills them. A runner that ends without recording makes its task requeued or
// lost, as any runner that died.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>

#include "common/options.h"
#include "common/segment.h"
#include "daemon/recovery.h"

namespace taskq {

class AdoptedRunners {
 public:
  // `on_end` runs after an adopted runner ended (the supervisor may be waiting for the last).
  AdoptedRunners(boost::asio::io_context* io, Segment* segment, std::function<void()> on_end);
  ~AdoptedRunners();

  void Adopt(const KeptTask& kept);
  // `taskq kill` / `pause` of an adopted task: its command's group is signalled (SIGKILL after
  // `kill_grace_ms` when `escalate`). False when the task is not an adopted one.
  bool Kill(const TaskRecord& running, int signal, bool escalate, uint64_t kill_grace_ms);
  bool Pause(const TaskRecord& running, bool pause);
  // Shutdown's last step: each adopted runner and its command's group get SIGKILL.
  void KillAll();
  bool empty() const { return by_id_.empty(); }

 private:
  struct Adopted {
    uint32_t slot = 0;
    pid_t runner = 0;
    std::unique_ptr<boost::asio::posix::stream_descriptor> pidfd;
    std::unique_ptr<boost::asio::steady_timer> kill_grace;
  };
  void Watch(uint64_t id);
  void Ended(uint64_t id);

  boost::asio::io_context* io_;
  Segment* segment_;
  std::function<void()> on_end_;
  std::map<uint64_t, Adopted> by_id_;
};

}  // namespace taskq
