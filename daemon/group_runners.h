// GroupRunners keeps one executor per group of the segment's group table (issue 7): the
// `default` group follows the top-level configuration, every other group its own policy and
// parallelism, side by side in one supervisor. It starts the executor of a new group, applies a
// changed one live (or replaces it: the old one drains, its runners finish their task), and
// drains the executor of a removed group. The supervisor forwards its events here.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/executor.h"

namespace taskq {

class GroupRunners {
 public:
  explicit GroupRunners(ExecutorContext base) : base_(std::move(base)) {}

  // Brings the executors in line with the group table and `options` (the top-level settings
  // every group inherits). Called at start, after a reload and when the table changes.
  void Reconcile(const Options& options);

  void OnWork();
  bool OnChildExit(pid_t pid, int wait_status, const rusage& usage);
  void OnTick();
  void BeginShutdown();
  void KillAll();
  // `taskq kill`: the executor that runs the task (draining ones included) signals it.
  bool Kill(const TaskRecord& running, int signal, bool escalate);
  // `taskq pause` / `resume` through the executor that runs the task; false when none does.
  bool Pause(const TaskRecord& running, bool pause);
  bool Stopped() const;
  // `keep_running` shutdown: every child left keeps an exec command; KillAll but those.
  bool OnlyKeepersLeft() const;
  void KillAllButKeepers();
  bool Ready() const;
  uint32_t ProcessCount() const;
  size_t GroupCount() const { return runners_.size(); }

 private:
  struct Runner {
    std::string name;
    Options options;
    std::unique_ptr<Executor> executor;
  };
  // The options a group's executor runs with: the top level with the group's own policy,
  // workers and max_parallel.
  static Options OptionsFor(const Options& top, const GroupInfo& group);
  std::unique_ptr<Executor> Make(uint32_t row, const Options& options);
  void Drain(std::unique_ptr<Executor> executor);

  ExecutorContext base_;
  std::map<uint32_t, Runner> runners_;               // by group row
  std::vector<std::unique_ptr<Executor>> draining_;  // replaced or removed, finishing up
  bool shutting_down_ = false;
  bool reconciled_once_ = false;  // the first Reconcile also settles Slurm tasks of a restart
};

}  // namespace taskq
