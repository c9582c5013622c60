// Completion hooks (issue 16): `on_finish:` of a group (the top level for `default`) is a shell
// command taskqd runs after each task of the group ended, with TASKQ_ID, TASKQ_STATE,
// TASKQ_EXIT_CODE, TASKQ_GROUP, TASKQ_LABELS (KEY=VALUE, comma-separated) and TASKQ_QUEUED (the
// tasks still queued in the group) in its environment, as pueue's callback or tsp's TS_ONFINISH.
//
// Tasks end in whatever runs them (a pool worker writes the end itself), so the hooks do not hang
// off the executors: once a second, and when the loop is woken, FinishHooks looks at the tasks it
// last saw unfinished and at those submitted since, and starts a hook for each that ended. A hook
// never blocks the queue: at most kMaxRunning run at once (the rest wait in order, at most
// kMaxWaiting, beyond which they are dropped and logged), each is killed after its timeout, and
// its failure is logged. Its output goes to taskqd's own (the journal under systemd).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/segment.h"

namespace taskq {

class FinishHooks {
 public:
  FinishHooks(boost::asio::io_context* io, Segment* segment, const Options& options);
  // A reload: the hooks of the new configuration apply to tasks ending from now on.
  void Apply(const Options& options);
  // Looks for tasks that ended since the last look and starts their hooks.
  void Poll();
  // A restarted task: its next end runs the hook again.
  void Watch(uint64_t id);
  // A child exited; false when it is not a hook.
  bool OnChildExit(pid_t pid, int wait_status);
  // At exit: kills the hooks still running and reaps them.
  void KillAll();

  static constexpr size_t kMaxRunning = 4;
  static constexpr size_t kMaxWaiting = 10000;

 private:
  struct Job {
    uint64_t id = 0;
    std::string command;
    uint64_t timeout_ms = 0;
    std::vector<std::string> env;
  };
  struct Running {
    uint64_t id = 0;
    std::unique_ptr<boost::asio::steady_timer> timeout;
  };
  // The hook of `group` ("" when none) and its timeout.
  const std::string& HookOf(const std::string& group, uint64_t* timeout_ms) const;
  void Enqueue(const TaskInfo& info);
  // True when some group has a hook: without one nothing is tracked (a queue without hooks
  // pays nothing for them).
  bool Enabled() const;
  // Starts tracking from the queue as it is now: what ended before has no hook run.
  void StartTracking();
  void StartWaiting();

  boost::asio::io_context* io_;
  Segment* segment_;
  Options options_;
  std::set<uint64_t> unfinished_;  // ids seen queued or running at the last look
  uint64_t next_id_ = 0;           // ids from here on were not looked at yet
  uint64_t skipped_ = 0;           // an id unreadable at the last look too: not waited for
  bool tracking_ = false;
  uint64_t last_poll_us_ = 0;
  std::deque<Job> waiting_;
  std::map<pid_t, Running> running_;
};

}  // namespace taskq
