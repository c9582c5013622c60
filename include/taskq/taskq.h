// libtaskq: the public C++ API of taskq, what programs outside this project link against
// (`pkg-config --cflags --libs taskq`, or `find_package(taskq)` and the target `taskq::client`).
// It submits tasks to a running taskqd, waits for them and reads their records, straight through
// the queue's shared-memory segment, as the `taskq` command does. The header uses only the
// standard library; the types live in `taskq::api` so that they never meet the daemon's internal
// types of the same names.
//
//   taskq::api::ConnectOptions options;
//   options.queue = "jobs";
//   std::unique_ptr<taskq::api::Client> client;
//   taskq::api::Status s = taskq::api::Client::Connect(options, &client);
//   std::vector<uint64_t> ids;
//   if (s.ok()) s = client->Submit({taskq::api::TaskSpec::Cpu(1000000)}, {}, &ids);
//   std::vector<taskq::api::TaskInfo> done;
//   if (s.ok()) s = client->Wait(ids, /*timeout_ms=*/-1, &done);  // done[0].succeeded()
//
// A Client is not thread-safe; use one per thread. Every call returns a Status whose code is the
// `taskq` command's exit code for the same failure (README "Exit codes").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#define TASKQ_API __attribute__((visibility("default")))

namespace taskq::api {

// The version of the library, e.g. "0.1.0" (the soname carries the major part).
TASKQ_API const char* Version();

// The numeric values are the `taskq` command's exit codes.
enum class Code : int {
  kOk = 0,
  kFailed = 1,       // an operation on the system did not succeed
  kInvalid = 2,      // bad input: a task spec, an unknown id, a bad configuration
  kUnavailable = 3,  // no daemon serves the queue, or its segment may not be opened
  kQueueFull = 4,    // the queue has no free slot (and the submit did not block)
  kTimedOut = 5,     // a wait ran out of time
};

// The result of a call: ok, or a code and a one-line message that names the thing and the fix.
class TASKQ_API Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

enum class Kind : int { kCpu = 1, kIo = 2, kExec = 3 };

// A task's life: queued -> running -> one of the five finished states. `lost`: the process that
// ran it vanished and no retry was left.
enum class State : int {
  kQueued = 2,
  kRunning = 3,
  kSucceeded = 4,
  kFailed = 5,
  kTimedOut = 6,
  kCancelled = 7,
  kLost = 8,
};

TASKQ_API const char* KindName(Kind kind);     // "cpu" | "io" | "exec"
TASKQ_API const char* StateName(State state);  // "queued", "running", "succeeded", ...
inline bool IsFinished(State state) { return state >= State::kSucceeded; }

// What to run and how: one struct for the three kinds (only the kind's own part is read) and the
// options every kind takes. The defaults are those of `taskq submit`.
struct TaskSpec {
  Kind kind = Kind::kCpu;

  struct Cpu {
    uint64_t count = 1000000;  // pseudo-random numbers to append (the tutorial's list_append)
    uint64_t seed = 0;
  } cpu;
  struct Io {
    uint64_t bytes = 64;    // bytes to write
    std::string path;       // "" = <state_dir>/io/<id>.dat
    uint64_t block = 4096;  // write() size
    bool fsync = false;     // fsync before close
  } io;
  struct Exec {
    std::vector<std::string> argv;  // argv[0]: absolute, relative to cwd, or found on PATH
    std::string cwd;                // "" = the daemon's state directory
    std::vector<std::string> env;   // extra NAME=VALUE pairs on top of the cleaned environment
  } exec;

  int64_t timeout_ms = -1;      // run-time limit; -1 = the daemon's default_timeout
  int32_t retries = -1;         // re-runs when the task's process dies; -1 = the daemon's default
  std::string retry_on;         // which ends are retried: "lost" (default), "failed,timed_out,lost"
  uint32_t retry_delay_ms = 0;  // wait before each retry
  uint32_t retry_delay_max_ms = 0;  // > 0: the delay doubles per retry up to this
  std::string group;                // "" = the group `default`
  int32_t priority = -1;            // 0..9, higher runs first; -1 = 5
  std::vector<uint64_t> after;      // run only once these tasks succeeded (at most 8)
  uint64_t not_before_us = 0;       // earliest start, Unix epoch microseconds; 0 = at once
  bool hold = false;                // submitted held: runs only after Client::Release
  std::vector<std::string> labels;  // KEY=VALUE labels (at most 16), for filters
  std::string unique;  // submitted only if no queued or running task has this key (else that id)

  static TaskSpec Cpu(uint64_t count, uint64_t seed = 0) {
    TaskSpec spec;
    spec.kind = Kind::kCpu;
    spec.cpu.count = count;
    spec.cpu.seed = seed;
    return spec;
  }
  static TaskSpec Io(uint64_t bytes, std::string path = "") {
    TaskSpec spec;
    spec.kind = Kind::kIo;
    spec.io.bytes = bytes;
    spec.io.path = std::move(path);
    return spec;
  }
  static TaskSpec Exec(std::vector<std::string> argv) {
    TaskSpec spec;
    spec.kind = Kind::kExec;
    spec.exec.argv = std::move(argv);
    return spec;
  }
};

// What a reader sees of one task: a copy of its record, never a pointer into the queue. Times are
// Unix epoch microseconds, 0 while unknown.
struct TaskInfo {
  uint64_t id = 0;
  Kind kind = Kind::kCpu;
  State state = State::kQueued;
  int32_t exit_code = -1;  // -1 until the task finished with an exit code
  int32_t signal = 0;      // the signal that killed it, 0 if none
  std::string reason;      // why it failed, timed out or was lost ("" otherwise)

  uint64_t submitted_at_us = 0;
  uint64_t started_at_us = 0;
  uint64_t finished_at_us = 0;
  uint64_t user_us = 0;  // CPU time of the task's process(es)
  uint64_t sys_us = 0;
  uint64_t max_rss_kb = 0;
  uint64_t read_bytes = 0;  // storage I/O of the task
  uint64_t write_bytes = 0;
  uint64_t voluntary_context_switches = 0;
  uint64_t involuntary_context_switches = 0;

  int32_t pid = 0;  // the process that ran (or runs) it
  uint32_t attempts = 0;
  uint32_t retries = 0;
  uint64_t timeout_ms = 0;  // 0 = none
  uint32_t submitter_uid = 0;
  std::string group;
  uint32_t priority = 5;
  std::vector<uint64_t> after;
  uint64_t not_before_us = 0;
  bool held = false;                // queued and kept back until Client::Release
  std::vector<std::string> labels;  // KEY=VALUE, as submitted
  std::string unique;               // its --unique key, "" if none
  std::string retry_on;             // the ends retried: "lost", "failed,timed_out,lost", ...
  uint32_t retry_delay_ms = 0;
  uint32_t retry_delay_max_ms = 0;
  // How the last attempts ended (at most 8, oldest first): attempt n's logs are <id>.<n>.out|err.
  struct Attempt {
    uint32_t attempt = 0;
    State state = State::kFailed;
    int32_t exit_code = -1;  // -1 when none
    int32_t signal = 0;
  };
  std::vector<Attempt> attempt_log;
  uint64_t array_id = 0;     // submit --array/--each-line: the array's first task; 0 = none
  uint64_t array_index = 0;  // and this task's index in it
  bool paused = false;       // running but stopped until Client::Resume
  uint64_t paused_us = 0;  // time this run spent paused (not run time), the current pause included

  // Results. cpu: checksum and count of the numbers; io: bytes written to io_path; exec: where
  // its stdout and stderr went.
  uint64_t checksum = 0;
  uint64_t result_count = 0;
  std::string io_path;
  std::string stdout_path;
  std::string stderr_path;

  // The spec as the task was submitted (spec_valid false when the record could not be decoded).
  TaskSpec spec;
  bool spec_valid = false;

  bool finished() const { return IsFinished(state); }
  bool succeeded() const { return state == State::kSucceeded; }
  // Microseconds between submit and start, and between start and finish; 0 while unknown.
  uint64_t queue_wait_us() const {
    return started_at_us >= submitted_at_us && started_at_us != 0 ? started_at_us - submitted_at_us
                                                                  : 0;
  }
  uint64_t run_us() const {
    if (!finished() || started_at_us == 0 || finished_at_us < started_at_us) return 0;
    const uint64_t span = finished_at_us - started_at_us;
    return span > paused_us ? span - paused_us : 0;
  }
};

struct ConnectOptions {
  std::string queue;        // "" = $TASKQ_QUEUE, else the configuration's, else taskq-<uid>
  std::string config_path;  // "" = $TASKQ_CONFIG, else /etc/taskq/taskq.yaml if present
};

struct SubmitOptions {
  bool block = false;             // on a full queue, wait for room instead of failing
  int64_t block_timeout_ms = -1;  // with block: give up after this long (-1 = never)
};

// A connection to one queue. Submitting needs its daemon running; reading works while the daemon
// is stopped, until the queue is purged.
class TASKQ_API Client {
 public:
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Finds the queue and attaches it. kUnavailable when there is no such queue or it may not be
  // opened; kInvalid for a bad configuration or queue name.
  static Status Connect(const ConnectOptions& options, std::unique_ptr<Client>* out);

  // Submits the tasks in order, all or none when one is refused; `ids` gets one id per task (for
  // a spec with `unique` whose key a queued or running task has: that task's id, nothing new).
  // kUnavailable when no daemon serves the queue; kQueueFull when it is full (unless `block`);
  // kInvalid for a bad spec or one the queue's `security:` rules refuse.
  Status Submit(const std::vector<TaskSpec>& specs, const SubmitOptions& options,
                std::vector<uint64_t>* ids);
  // Waits until every task of `ids` has finished (timeout_ms -1 = forever) and returns them in the
  // same order. kTimedOut when time ran out (`tasks` then holds their current view); kInvalid
  // for an unknown id.
  Status Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms, std::vector<TaskInfo>* tasks);
  // One task; kInvalid when the queue has no task with this id (any more).
  Status Get(uint64_t id, TaskInfo* task);
  // Every task the queue holds, oldest first.
  Status List(std::vector<TaskInfo>* tasks);
  // Cancels a queued task. kFailed when it is no longer queued (only queued tasks can be
  // cancelled), kInvalid when the queue has no such task.
  Status Cancel(uint64_t id);
  // Stops a running task (`taskq kill`): `signal` "" sends SIGTERM to its process group, then
  // SIGKILL after kill_grace; a name ("INT", "SIGUSR1") or number sends that signal once. The
  // task then ends kCancelled. kFailed when it is queued (Cancel it) or finished, kInvalid for an
  // unknown id or a signal kill does not send (TERM, INT, HUP, QUIT, KILL, USR1, USR2, ALRM).
  Status Kill(uint64_t id, const std::string& signal = "");
  // Keeps a queued task back (`taskq hold`) or lets it run (`taskq release`). kFailed when it is
  // not queued or already held (not held), kInvalid when the queue has no such task.
  Status Hold(uint64_t id);
  Status Release(uint64_t id);
  // Stops a running task (`taskq pause`: SIGSTOP to an exec command's process group; a cpu/io
  // task waits at its next check) or lets it go on (`taskq resume`). Paused time counts neither
  // as run time nor against its timeout. kFailed when it is not running, already paused (not
  // paused) or a Slurm job; kInvalid when the queue has no such task.
  // Runs a finished task again as the next attempts of the same id (`taskq restart`); each
  // attempt's logs are kept. kFailed when it has not finished, kInvalid when unknown.
  Status Restart(uint64_t id);
  Status Pause(uint64_t id);
  Status Resume(uint64_t id);
  // A round trip through the daemon; `pid` (if not null) gets its process id. kUnavailable
  // when no daemon serves the queue, kTimedOut when it did not answer in time.
  Status Ping(int64_t timeout_ms, int32_t* pid = nullptr);

  const std::string& queue() const;
  const std::string& state_dir() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskq::api
