// The internal client library (taskq_client; not installed: programs use libtaskq,
// include/taskq/taskq.h, which is built on it): how the taskq command, the policy lab and the tests
// submit tasks, wait for them and read their results. The daemon's own user works straight through
// the queue's shared-memory segment (no daemon round trip on the data path); every other user
// reads the segment (read-only, lock-free) and asks the daemon over its control socket to change
// anything (docs/SECURITY.md).
//
//   std::unique_ptr<taskq::Client> client;
//   taskq::Status s = taskq::Client::Connect({.queue = "jobs"}, &client);
//   taskq::TaskSpec spec;  spec.kind = taskq::TaskKind::kCpu;  spec.cpu.count = 1000;
//   std::vector<uint64_t> ids;
//   s = client->Submit({spec}, {}, &ids);
//   std::vector<taskq::TaskInfo> done;
//   s = client->Wait(ids, /*timeout_ms=*/-1, &done);   // done[0].state == kSucceeded
//
// A Client is not thread-safe; use one per thread. Every call returns a Status whose code is
// also the CLI's exit code (0 ok, 1 failed, 2 bad input, 3 no daemon, 4 queue full, 5 timeout).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "common/task.h"

namespace taskq {

enum class ControlOp;  // common/control_protocol.h

class Segment;

struct ConnectOptions {
  std::string queue;        // "" = $TASKQ_QUEUE, else the configuration's, else taskq-<uid>
  std::string config_path;  // "" = $TASKQ_CONFIG, else /etc/taskq/taskq.yaml if present
};

struct SubmitOptions {
  bool block = false;             // on a full queue, wait for space instead of failing
  int64_t block_timeout_ms = -1;  // with block: give up after this long (-1 = never)
  // Called with the ids of each chunk as soon as it is in the queue (a batch lands in chunks of
  // up to 256, each under one lock hold): the CLI prints them then, so a client killed mid-batch
  // has printed the id of every chunk that landed but the last.
  std::function<void(const std::vector<uint64_t>& all_ids, size_t first_new)> on_landed;
  // When given: 1 at the position of each id that is an existing task (`--unique` found its
  // key), 0 for a task submitted now.
  std::vector<uint8_t>* existing = nullptr;
  // `submit --sync`: return (and call on_landed) only once the tasks are on stable storage,
  // whatever the queue's durability; refused where the queue keeps no journal. Under durability
  // sync every submit does this.
  bool sync = false;
};

struct DaemonInfo {
  int32_t pid = 0;
  bool ready = false;
  Policy policy = Policy::kPool;
  uint32_t workers = 0;  // pool workers alive
  uint32_t workers_wanted = 0;
  uint32_t max_parallel = 0;
  uint32_t running_processes = 0;  // process policy
  uint64_t uptime_us = 0;
};

struct QueueStats {
  DaemonInfo daemon;
  bool daemon_running = false;
  uint64_t by_state[kTaskStateCount] = {};
  uint64_t queue_depth = 0;
  uint64_t submitted_total = 0;
  uint64_t finished_total = 0;
  double throughput_per_s = 0;  // finished tasks per second, last ~10 s
  uint64_t lock_repairs = 0;
  uint32_t capacity = 0;
  // Durability (docs/RELIABILITY.md): the level and the journal's counters.
  Durability durability = Durability::kMemory;
  uint64_t journal_entries = 0;
  uint64_t journal_synced = 0;
  uint64_t journal_syncs = 0;
  // Per group (issue 7): its settings and what it holds now.
  struct Group {
    GroupInfo info;
    uint64_t queued = 0;
    uint64_t running = 0;
    uint64_t finished = 0;
  };
  std::vector<Group> groups;
};

class Client {
 public:
  ~Client();
  // Finds the queue (see ConnectOptions) and attaches its segment. kUnavailable when there is no
  // such queue or it may not be opened; kInvalid for a bad configuration.
  static Status Connect(const ConnectOptions& options, std::unique_ptr<Client>* out);
  // The configuration a client resolves for `options`, without attaching.
  static Status ResolveOptions(const ConnectOptions& options, Options* resolved);

  // Submits tasks in order; `ids` receives one id per submitted task. kUnavailable when no daemon
  // serves the queue; kQueueFull when it is full (unless `block`); kInvalid for a bad spec or one
  // the queue's `security:` rules refuse (then nothing is submitted).
  Status Submit(const std::vector<TaskSpec>& specs, const SubmitOptions& options,
                std::vector<uint64_t>* ids);
  // Called while waiting, with the state of each awaited task (in the order of the ids).
  using WaitProgress = std::function<void(const std::vector<TaskState>&)>;
  // Waits until every task in `ids` has finished (timeout_ms -1 = forever) and returns them in
  // the same order. kTimedOut when time ran out (`tasks` then holds the current view),
  // kInvalid for an unknown id. `progress`, when set, is called on each change.
  Status Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms, std::vector<TaskInfo>* tasks,
              const WaitProgress& progress = nullptr);
  // The same wait, reading only the states (no record is copied): for callers that need only
  // whether the tasks succeeded, e.g. a script waiting on 100,000 tasks.
  Status WaitStates(const std::vector<uint64_t>& ids, int64_t timeout_ms,
                    std::vector<TaskState>* states, const WaitProgress& progress = nullptr);
  // The ids of all tasks that are queued or running now.
  std::vector<uint64_t> Unfinished();
  // The id the queue hands out next: every task submitted from now on has this id or a larger
  // one (`wait --all` waits for them too).
  uint64_t NextId();
  // Tasks submitted since `*watermark` (from NextId()) that are in the queue now, in id order;
  // moves `*watermark` past them, but not past a task still being submitted (seen next time).
  std::vector<uint64_t> SubmittedSince(uint64_t* watermark);

  Status Get(uint64_t id, TaskInfo* info);
  std::vector<TaskInfo> List();
  Status Cancel(uint64_t id);
  // `taskq kill`: asks the daemon to signal a running task (0: SIGTERM, then SIGKILL after
  // kill_grace); the task then ends cancelled. Always through the control socket: only the
  // daemon knows what runs the task.
  Status Kill(uint64_t id, int signal = 0);
  // `taskq hold` / `taskq release`: keeps a queued task back, or lets it run (through the
  // control socket, so the daemon starts a released task at once).
  Status SetHeld(uint64_t id, bool held);
  // `taskq pause` / `taskq resume`: stops a running task (an exec command's process group gets
  // SIGSTOP, a cpu/io kernel waits) or lets it go on; paused time is not run time.
  Status SetPaused(uint64_t id, bool paused);
  // `taskq restart`: a finished task is queued again as its next attempt (through the daemon).
  Status Restart(uint64_t id);
  QueueStats Stats();
  // A round trip through the daemon's event loop.
  Status Ping(int64_t timeout_ms, DaemonInfo* info);
  // Asks the daemon to drain and exit; with `wait`, returns once it has exited.
  Status Shutdown(bool wait, int64_t timeout_ms);
  // Asks the daemon to re-read its configuration (as SIGHUP does).
  Status Reload();
  // Repairs the segment's invariants (doctor --repair): directly for the daemon's user, else by
  // the daemon for an admin. `fixes` describes each fix.
  Status Repair(std::vector<std::string>* fixes);
  // Opens an exec task's stdout (or stderr) log for reading. Other users than the daemon's get
  // the descriptor from the daemon, for their own tasks only.
  // Opens the log of attempt `attempt` of exec task `id` (0 = its latest attempt).
  Status OpenLog(uint64_t id, bool is_stderr, int* fd, uint32_t attempt = 0);
  // True when this process writes the segment itself (it is the daemon's user); false when it
  // reads the segment and asks the daemon for every change.
  bool writes_directly() const;

  // Groups (issue 7): each a FIFO with its own policy and parallelism. The daemon starts and
  // stops their runners when the table changes.
  Status AddGroup(const std::string& name, const GroupSettings& settings);
  Status RemoveGroup(const std::string& name);
  Status SetGroupPaused(const std::string& name, bool paused);
  std::vector<GroupInfo> Groups();

  Segment& segment() { return *segment_; }
  const Options& options() const { return options_; }
  std::string state_dir() const;

 private:
  Client() = default;
  DaemonInfo ReadDaemonInfo();
  Status CheckDaemon();
  const Options& DaemonRules();
  Status CheckSpecs(const std::vector<TaskSpec>& specs);
  Status SubmitThroughDaemon(const std::vector<TaskSpec>& specs, const SubmitOptions& options,
                             std::vector<uint64_t>* ids);
  Status AskAboutTask(ControlOp op, uint64_t id, int signal = 0);

  Options options_;
  std::unique_ptr<Segment> segment_;
  // DaemonRules' last parse of effective.yaml and the file it came from (device, inode, size,
  // change times): parsing costs ~330 µs, most of a one-task submit's round trip; a stat a few.
  struct RulesCache {
    bool valid = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    Options rules;
  };
  RulesCache rules_cache_;
};

}  // namespace taskq
