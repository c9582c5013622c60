// Options is every setting of taskqd and taskq, with its built-in default written beside it.
// The YAML loader (config/load.h) fills this struct; nothing else in taskq reads YAML. The struct
// and its helpers are plain types, here in common/ so that the segment and tasks use them without
// depending on config/.
// Durations are stored in milliseconds; in YAML they are a number of seconds (`2.5`) or a string
// with a unit (`500ms`, `10s`, `5m`, `1h`, `2d`).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace taskq {

enum class Policy { kPool, kProcess, kSlurm };
enum class Storage { kShm, kFile };
// What becomes of the processes an exec task leaves running when its command exits
// (daemon/leftovers.h): ended (kill) or waited for within the task's timeout (wait).
enum class Leftovers { kKill, kWait };
// What a submit or a result survives (docs/RELIABILITY.md): memory keeps no journal; flush
// journals every change and syncs it once a second; sync acknowledges only what is synced.
enum class Durability : uint32_t { kMemory = 0, kFlush = 1, kSync = 2 };

const char* PolicyName(Policy policy);              // "pool" | "process" | "slurm"
const char* StorageName(Storage storage);           // "shm" | "file"
const char* DurabilityName(Durability durability);  // "memory" | "flush" | "sync"
bool ParsePolicy(const std::string& text, Policy* policy);

// Per-task resource limits, applied with setrlimit in the process that runs an `exec` task (and
// in per-task processes of the `process` policy). 0 means "no limit".
struct TaskLimits {
  uint64_t cpu_seconds = 0;       // RLIMIT_CPU
  uint64_t address_space_mb = 0;  // RLIMIT_AS
  uint64_t open_files = 0;        // RLIMIT_NOFILE
  uint64_t output_mb = 0;         // RLIMIT_FSIZE: caps the stdout/stderr logs and files written
};

// A group of the configuration's `groups:` (issue 7): its own FIFO, policy and parallelism.
struct GroupConfig {
  std::string name;  // [A-Za-z0-9_.-]{1,31}, not `default`
  Policy policy = Policy::kPool;
  uint32_t workers = 0;       // pool: processes; 0 = one per CPU
  uint32_t max_parallel = 0;  // process: tasks at once; 0 = unbounded
  // A command (run with /bin/sh -c by taskqd) after each task of the group ended, with
  // TASKQ_ID, TASKQ_STATE, TASKQ_EXIT_CODE, TASKQ_GROUP, TASKQ_LABELS and TASKQ_QUEUED set;
  // killed after on_finish_timeout. "" = none.
  std::string on_finish;
  uint64_t on_finish_timeout_ms = 30000;
};

// The characters of queue and group names: A-Z a-z 0-9 _ . -
bool IsNameChar(char c);
// Group names: 1..31 of [A-Za-z0-9_.-], not starting with '.' or '-'.
bool IsValidGroupName(const std::string& name);

enum class SlurmMode { kJob, kPilot };

// The `slurm` policy: every task becomes one Slurm batch job (daemon/slurm_executor.cc), or
// pilot jobs lease many tasks each (daemon/slurm_pilots.cc).
struct SlurmOptions {
  std::string partition;                   // sbatch --partition; "" = the cluster's default
  uint64_t time_limit_ms = 0;              // --time of tasks without a timeout; 0 = partition's
  uint32_t cpus_per_task = 1;              // sbatch --cpus-per-task
  std::vector<std::string> extra_args;     // more sbatch options, e.g. ["--qos=short"]
  uint64_t poll_interval_ms = 500;         // how often the controller is asked for job states
  uint32_t max_jobs = 100;                 // taskq tasks in Slurm (pending or running) at once
  std::string bin_dir;                     // "" = sbatch, scontrol, scancel on PATH; else here
  std::string runner;                      // cpu/io tasks: "" = taskq-run beside taskqd
  uint64_t controller_timeout_ms = 60000;  // Slurm unreachable this long: its tasks are lost
  // mode: job = one batch job per task; pilot = pilot jobs run taskq-worker, which leases many
  // tasks over TCP (daemon/slurm_pilots.cc, issue 19). The keys below are the pilot mode's.
  SlurmMode mode = SlurmMode::kJob;
  uint32_t max_pilots = 4;            // pilot jobs (pending or running) at once
  uint32_t backlog = 1;               // pilot jobs waiting in Slurm (PENDING) at once
  uint32_t pilot_slots = 4;           // tasks one pilot runs at once
  uint64_t pilot_time_ms = 3600000;   // a pilot's --time; tasks are matched against what is left
  uint64_t idle_timeout_ms = 300000;  // a pilot with nothing to do this long exits
  uint64_t heartbeat_timeout_ms = 10000;  // silent this long: the pilot's leases are lost
  uint32_t max_failed_starts = 3;        // pilots in a row that end before connecting: group paused
  std::vector<std::string> sbatch_args;  // more sbatch options for pilot jobs
  std::string pilot_listen = "127.0.0.1:0";  // ADDRESS:PORT pilots connect to (0 = any port)
  bool operator==(const SlurmOptions&) const = default;
};

struct Options {
  // --- identity and storage (changing these needs a restart) ---
  std::string queue;                // "" = built-in default "taskq-<uid>"; [A-Za-z0-9_.-]{1,64}
  Storage storage = Storage::kShm;  // shm: segment in /dev/shm; file: mapped file in state_dir
  Durability durability = Durability::kMemory;  // journal in state_dir: memory | flush | sync
  std::string state_dir;      // "" = $XDG_RUNTIME_DIR/taskq/<queue>, else /tmp/taskq-<uid>/<queue>
  uint32_t capacity = 65536;  // task slots in the segment: 16 .. 4,194,304
  uint32_t mode = 0600;       // segment and effective.yaml; 0640 when `group` is set
  std::string group;          // "" = no group access; else the group that may submit
  std::string user;           // "" = run as the invoking user; root must name one
  std::string admins;         // "" = none; else a group whose members may administer the queue
  std::string run_as = "daemon";  // daemon: tasks run as taskqd's user; submitter: as whoever
                                  // submitted them (taskqd stays root: `user: root`)

  // --- execution (change live on SIGHUP) ---
  Policy policy = Policy::kPool;
  uint32_t workers = 0;               // pool size; 0 = one per online CPU; 1 .. 1024
  uint32_t max_parallel = 0;          // `process` policy: tasks running at once; 0 = unbounded
  uint32_t max_tasks_per_worker = 0;  // pool: recycle a worker after this many tasks; 0 = never
  std::vector<GroupConfig> groups;    // groups besides `default` (which is the top level)
  std::string on_finish;              // the `default` group's completion hook (GroupConfig)
  uint64_t on_finish_timeout_ms = 30000;

  // --- fair sharing between users ---
  uint32_t max_queued_per_user = 0;  // queued tasks one user may have at once; 0 = no limit

  // --- task defaults ---
  uint64_t default_timeout_ms =
      0;                          // per-task run-time limit when the submitter gives none; 0 = none
  uint32_t default_retries = 0;   // re-runs after a runner dies (task `lost`); 0 .. 100
  uint64_t kill_grace_ms = 2000;  // SIGTERM to SIGKILL for a timed-out or cancelled task
  Leftovers leftovers = Leftovers::kKill;  // processes an exec task left: kill | wait

  // --- results ---
  uint32_t retain_count = 10000;      // finished tasks kept before the oldest may be evicted
  uint64_t retain_age_ms = 86400000;  // finished tasks older than this may be evicted

  // --- shutdown and service ---
  uint64_t shutdown_grace_ms = 10000;  // SIGTERM: running tasks get this long before being killed
  bool keep_running = false;  // SIGTERM leaves running exec tasks to their runners (adopted later)
  std::string log_level = "info";  // trace | debug | info | warn | error | off
  std::string metrics_listen;      // "" = off; else ADDRESS:PORT of the HTTP metrics endpoint

  // --- what a submission may make the daemon do ---
  bool exec_enabled = true;             // false: `exec` tasks are refused
  std::vector<std::string> exec_allow;  // empty = any executable; else absolute paths or globs
  std::vector<std::string> env_allow = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TERM", "USER"};
  std::string io_root;                  // "" = <state_dir>/io; `io` paths must resolve beneath it
  uint64_t max_cpu_count = 1000000000;  // upper bound of `cpu --count`
  uint64_t max_io_bytes = 1ull << 30;   // upper bound of `io --bytes`
  TaskLimits limits;
  SlurmOptions slurm;
};

// Splits `metrics_listen`'s ADDRESS:PORT: an IPv4 address or a bracketed IPv6 one ([::1]) and a
// port 1..65535. False when the text is not of that form.
bool ParseListenAddress(std::string_view text, std::string* address, uint16_t* port);

// ParseListenAddress that also takes port 0 (any free port), for slurm.pilot_listen.
bool ParsePilotListen(std::string_view text, std::string* address, uint16_t* port);

// The gid of `group` ("" = none: *gid = -1). kInvalid naming the setting when it does not exist.
Status LookUpGroup(const std::string& group, gid_t* gid);

// The effective values once the built-in defaults that depend on the machine and the environment
// are resolved: queue name, state directory, worker count, io_root.
Options ResolveDefaults(Options options);

// CPUs online now (at least 1).
uint32_t OnlineCpus();
// What a `workers` setting means, wherever one is resolved (the top level, a group, metrics):
// 0 is one worker per online CPU.
uint32_t ResolveWorkers(uint32_t configured);

}  // namespace taskq
