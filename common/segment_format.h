// The byte layout of a taskq segment: one header, a slot directory, the queue's links (one row
// per slot) and a table of fixed-size task records. docs/segment_format.md tells the whole story;
// every constant that defines the layout lives here. No pointer is ever stored in the segment (each
// process maps it at its own address) and no Boost synchronisation object or container lives in
// it: a SIGKILLed holder must never leave it unusable (DESIGN §2).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace taskq {

inline constexpr uint64_t kSegmentMagic = 0x4745535150534154ull;  // "TASKQSEG" little-endian
// 2: groups, priorities, dependencies, delays. 3: only the daemon's user writes; others map
// read-only and copy records lock-free, checking each slot's write sequence (SlotEntry::seq).
// 4: a running task can be paused (paused_at_us, paused_us), tasks carry labels (label_count
// strings at the end of the payload) and array membership (array_id, array_index), retries on
// chosen ends with a delay (retry_on, retry_delay_*), restarts (series_first_attempt) and the
// ends of the last 8 attempts (attempt_log); the payload gave 112 bytes.
// 5: durability (issue 17): the journal's counters, the boot the memory belongs to, the sync
// lock, and each slot's journal entry number (SlotEntry::journaled).
// 6: the FIFO ring of ids gave way to linked lists (issue 18): a ready list per group and
// priority and one list of held tasks (delayed, waiting on --after, `taskq hold`), so a pop
// costs the same at any queue size.
inline constexpr uint32_t kLayoutVersion = 7;
inline constexpr uint32_t kMaxWorkers = 256;     // worker table rows in the header
inline constexpr uint32_t kPayloadBytes = 504;   // spec strings of one task (argv, env, path)
inline constexpr uint32_t kReasonBytes = 120;    // why a task failed, was lost, ...
inline constexpr uint32_t kStateDirBytes = 256;  // the daemon's state directory, for clients
inline constexpr uint32_t kMaxGroups = 16;       // group table rows; row 0 is `default`
inline constexpr uint32_t kGroupNameBytes = 32;  // NUL-terminated group name
inline constexpr uint32_t kPriorityLevels = 10;  // priorities 0..9, higher runs first
inline constexpr uint32_t kDefaultPriority = 5;
inline constexpr uint32_t kMaxAfter = 8;        // dependencies of one task
inline constexpr uint32_t kUserRows = 64;       // users with queued tasks counted in the header
inline constexpr uint32_t kHeldJoinLog = 1024;  // held-list joins logged between two looks
inline constexpr uint32_t kMinCapacity = 16;
inline constexpr uint32_t kMaxCapacity = 4u << 20;
// Ids only grow by one per task: 2^62 is never reached, so a larger id is corruption (and
// next_id = id + 1 can never wrap to 0).
inline constexpr uint64_t kMaxTaskId = uint64_t{1} << 62;

// The life of a task. kFree and kReserved are slot states: a slot is kReserved while a client
// writes a new task into it under the lock, so a client killed there leaves a slot that repair
// can free (owner pid dead) instead of a half-written task.
enum class TaskState : uint32_t {
  kFree = 0,
  kReserved = 1,
  kQueued = 2,
  kRunning = 3,
  kSucceeded = 4,
  kFailed = 5,
  kTimedOut = 6,
  kCancelled = 7,
  kLost = 8,
};
inline constexpr uint32_t kTaskStateCount = 9;

inline bool IsFinished(TaskState s) { return s >= TaskState::kSucceeded && s <= TaskState::kLost; }

enum class TaskKind : uint32_t { kCpu = 1, kIo = 2, kExec = 3 };

// The ends of the last kAttemptLog attempts of a task (attempt n in row (n - 1) % kAttemptLog).
inline constexpr uint32_t kAttemptLog = 8;
struct AttemptEntry {
  int32_t exit_code;  // -1 when none (a signal, a lost runner)
  uint16_t signal;    // 0 when none
  uint8_t state;      // TaskState the attempt ended in (0: no attempt recorded in this row)
  uint8_t reserved;
};
static_assert(sizeof(AttemptEntry) == 8);

// Task record flags.
inline constexpr uint32_t kFlagFsync = 1u << 0;         // io: fsync before close
inline constexpr uint32_t kFlagTimeoutFired = 1u << 1;  // the deadline passed; a kill was sent
inline constexpr uint32_t kFlagCancelKill = 1u << 2;    // cancel asked for a running task
// A batch scheduler's job runs it (the `slurm` policy): child_pid holds the job id, and its
// executor, not a signal from here, stops it.
inline constexpr uint32_t kFlagBatchJob = 1u << 3;
inline constexpr uint32_t kFlagHeld = 1u << 4;    // queued but kept back (`taskq hold`)
inline constexpr uint32_t kFlagPaused = 1u << 5;  // running but stopped (`taskq pause`)
inline constexpr uint32_t kFlagArray = 1u << 6;   // one of an array (array_id, array_index)

// One row of the slot directory: what scans need, kept apart from the 1 KiB records so a scan of
// 65,536 slots touches 1.5 MiB, not 64 MiB. Guarded by the segment lock.
//
// Readers that may not take the lock (users other than the daemon's map the segment read-only)
// copy a record lock-free: `seq` is odd while a lock holder writes the slot's record, and moves
// on to the next even value when the lock is released; a copy taken between two equal even
// readings of `seq` (and of `id` and `state`) is whole.
struct SlotEntry {
  std::atomic<uint64_t> id;        // task id in this slot, 0 when free
  std::atomic<uint32_t> state;     // TaskState
  std::atomic<int32_t> owner_pid;  // kReserved: the submitting client; kRunning: the runner
  std::atomic<uint32_t> seq;       // record write sequence: odd while being written
  // The low 32 bits of the number of the journal entry that carries this slot's last write
  // (set when the write begins, so a reader that sees the new state sees the number too). With
  // durability `sync`, a finished task is reported once the journal is synced past it.
  std::atomic<uint32_t> journaled;
};
static_assert(sizeof(SlotEntry) == 24);
inline TaskState StateOf(const SlotEntry& e) {
  return static_cast<TaskState>(e.state.load(std::memory_order_relaxed));
}

// The queue (issue 18). Every queued task is linked in exactly one list: a ready list of its
// group, priority and user lane (its submitter's uid modulo kUserLanes; ordered by `order`,
// oldest first: a pop takes the oldest head among the lanes of the best priority, so users take
// turns without a walk) or the held list (a delay not over, a dependency not succeeded, `taskq
// hold`), which the supervisor looks at to move tasks that became ready. Links are slot + 1 (0:
// none). Guarded by the segment lock; Repair() rebuilds every list from the slot states.
inline constexpr uint32_t kNoList = 0;
inline constexpr uint32_t kHeldList = 1;
inline constexpr uint32_t kUserLanes = 32;  // ready lists per group and priority (bits of a word)
inline constexpr uint32_t kLaneSets = kMaxGroups * kPriorityLevels;  // one per group and priority
inline constexpr uint32_t kListCount = 2 + kLaneSets * kUserLanes;
inline constexpr uint32_t UserLaneOf(uint32_t uid) { return uid % kUserLanes; }
inline constexpr uint32_t LaneSetOf(uint32_t group, uint32_t priority) {
  return group * kPriorityLevels + priority;
}
inline constexpr uint32_t ReadyListInSet(uint32_t lane_set, uint32_t lane) {
  return 2 + lane_set * kUserLanes + lane;
}
inline constexpr uint32_t ReadyListOf(uint32_t group, uint32_t priority, uint32_t lane) {
  return ReadyListInSet(LaneSetOf(group, priority), lane);
}
// The lane set of a ready list (its ready_lanes word), and its bit in that word.
inline constexpr uint32_t LaneSetOfList(uint32_t ready_list) {
  return (ready_list - 2) / kUserLanes;
}
inline constexpr uint32_t LaneBit(uint32_t ready_list) {
  return 1u << ((ready_list - 2) % kUserLanes);
}
// A held task that waits on an unfinished dependency is also in that dependency's chain of
// dependents, so the dependency's end re-examines exactly the tasks that wait on it.
struct QueueLink {
  uint32_t prev;      // slot + 1 of the task before this one in its list, 0 at the head
  uint32_t next;      // slot + 1 of the task after it, 0 at the tail
  uint32_t list;      // the list this slot is linked in; kNoList when it is not queued
  uint32_t waits_on;  // slot + 1 of the dependency whose chain this task is in, 0 = none
  uint64_t order;     // FIFO position, given when the task enters kQueued and kept while held
  uint32_t dep_prev;  // slot + 1 of the neighbours in that chain
  uint32_t dep_next;
  uint32_t dependents;  // slot + 1 of the first task waiting on this slot's task, 0 = none
  uint32_t reserved;
};
static_assert(sizeof(QueueLink) == 40);
struct QueueList {
  uint32_t head;  // slot + 1, 0 when empty
  uint32_t tail;
  uint64_t length;
};

// One row of the worker table (pool policy). Written by the supervisor (pid, generation) and by
// the worker itself (state, current task, counters).
enum class WorkerState : uint32_t { kEmpty = 0, kStarting = 1, kIdle = 2, kBusy = 3, kExiting = 4 };
struct WorkerEntry {
  std::atomic<int32_t> pid;
  std::atomic<uint32_t> state;       // WorkerState
  std::atomic<uint64_t> current_id;  // task being run, 0 when idle
  std::atomic<uint64_t> tasks_done;
  std::atomic<uint32_t> retire;      // set by the supervisor: finish the current task and exit
  std::atomic<uint32_t> generation;  // bumped each time the row gets a new process
};

// One row of the group table: a named FIFO with its own policy and parallelism (issue 7). Row 0
// is `default` and follows the top-level configuration. Written by whoever adds, changes or
// removes a group (client or supervisor) under the segment lock; the supervisor reconciles its
// executors with the table when `groups_seq` moves.
struct GroupEntry {
  std::atomic<uint32_t> in_use;        // 1 while the group exists
  std::atomic<uint32_t> paused;        // 1: queued tasks of the group are not started
  std::atomic<uint32_t> policy;        // Policy as integer
  std::atomic<uint32_t> workers;       // pool: processes; 0 = one per CPU
  std::atomic<uint32_t> max_parallel;  // process: tasks at once; 0 = unbounded
  std::atomic<uint32_t> from_config;   // 1: defined by the configuration file (reload owns it)
  std::atomic<uint32_t> ever_used;     // rows never used are handed out first
  uint32_t reserved;
  char name[kGroupNameBytes];
};

// The header. `magic` is written last at creation, so a half-created segment is refused.
struct alignas(64) SegmentHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_size;
  uint32_t record_size;
  uint32_t capacity;
  uint64_t total_size;

  pthread_mutex_t lock;  // robust, process-shared; guards everything below marked (L)

  // Futex words: bumped (and woken when someone sleeps) on each event; sleepers wait on them.
  std::atomic<uint32_t> work_seq;      // a task became runnable
  std::atomic<uint32_t> done_seq;      // a task finished (or was cancelled)
  std::atomic<uint32_t> space_seq;     // a slot became free
  std::atomic<uint32_t> pong_seq;      // the supervisor answered a ping
  std::atomic<uint32_t> idle_workers;  // pool workers asleep on work_seq
  // Clients asleep on a task's own word (its SlotEntry::state, which only that task's end wakes);
  // `submit --block` sleepers are counted in space_waiters. A waker makes a wake call only for
  // what someone sleeps on.
  std::atomic<uint32_t> waiters;

  // Supervisor status, written by the supervisor only.
  std::atomic<int32_t> owner_pid;   // running supervisor, 0 when none
  std::atomic<uint32_t> epoch;      // bumped at each supervisor start
  std::atomic<uint32_t> accepting;  // 0 while no supervisor runs or it is shutting down
  std::atomic<uint32_t> ready;      // 1 once the policy can run tasks (pool: workers up)
  std::atomic<uint32_t> policy;     // Policy as integer
  std::atomic<uint32_t> workers_wanted;
  std::atomic<uint32_t> max_parallel;
  std::atomic<uint32_t> running_tasks;  // tasks in kRunning, kept by the segment's transitions
  std::atomic<uint64_t> started_at_us;  // supervisor start, Unix epoch µs
  std::atomic<uint64_t> heartbeat_us;   // last tick of the supervisor's loop
  std::atomic<uint64_t> rate_milli;     // finished tasks per second × 1000, last ~10 s
  std::atomic<uint32_t> retain_count;   // retention policy, published for client-side eviction
  std::atomic<uint64_t> retain_age_ms;
  std::atomic<uint64_t> default_timeout_ms;  // applied by clients to tasks that give none
  std::atomic<uint32_t> default_retries;
  char state_dir[kStateDirBytes];  // NUL-terminated: logs, io files, doorbell live here

  // The queue (L).
  uint64_t next_order;       // the FIFO position the next task to enter kQueued gets
  uint64_t next_id;          // next task id to hand out; ids start at 1 and only grow
  uint64_t submitted_total;  // tasks ever submitted
  uint64_t finished_total;   // tasks ever finished
  uint64_t finished_live;    // finished tasks still in the table (retention)
  uint64_t lock_repairs;     // times a locker found the lock's holder dead and repaired

  WorkerEntry workers[kMaxWorkers];

  // Groups and the scheduling hints (L). queued_by_priority counts queued tasks per group and
  // priority so that a popper knows the best priority waiting without scanning; it is a hint
  // that Repair() recounts, never trusted for safety.
  std::atomic<uint32_t> groups_seq;  // bumped when the group table changes
  // The held list (issue 18, daemon/held_walk.h). Each task that joins it is logged here, so the
  // supervisor looks at the new ones alone; when the log is full (or a chain broke, a walk would
  // miss nothing) held_hint asks for a walk of the whole list instead.
  std::atomic<uint32_t> held_hint;       // 1: walk the whole held list
  std::atomic<uint32_t> held_joined;     // entries in held_join_log (L; the supervisor's hint)
  uint32_t held_join_log[kHeldJoinLog];  // slots that joined the held list since the last look
  GroupEntry groups[kMaxGroups];
  uint64_t queued_by_priority[kMaxGroups][kPriorityLevels];
  QueueList lists[kListCount];  // index kHeldList, then ReadyListOf(group, priority, lane)
  // Bit `lane` of ready_lanes[LaneSetOf(group, priority)]: that ready list is not empty. Set and
  // cleared with the list (a pop clears a stale set bit; Repair rebuilds them all).
  uint32_t ready_lanes[kLaneSets];

  // Fair sharing (L): queued tasks per submitting user (a hint, recounted by Repair; a user
  // beyond kUserRows is not counted) and the user each group served last, so that users' ready
  // tasks of equal priority take turns.
  struct UserCount {
    uint32_t uid;
    uint32_t queued;  // 0: the row is free
  } queued_by_user[kUserRows];
  uint32_t last_served_uid[kMaxGroups];

  // Durability (issue 17, common/segment_journal.cc, docs/RELIABILITY.md). Every lock hold that
  // wrote records appends their images to `<state_dir>/journal` before it unlocks; `sync`
  // makes them durable with fdatasync, one for all who wait (group commit).
  std::atomic<uint32_t> durability;          // Durability as integer; 0 = memory: no journal
  std::atomic<uint32_t> journal_generation;  // bumped when compaction replaces the file (L)
  std::atomic<uint64_t> journal_entries;     // entries appended so far (L)
  std::atomic<uint64_t> journal_synced;      // entries known to be on stable storage
  std::atomic<uint64_t> journal_compacted;   // journal_entries at the last compaction (L)
  std::atomic<int32_t> journal_error;        // errno of the last failed append; 0 when fine
  std::atomic<uint32_t> space_waiters;       // `submit --block` clients asleep on space_seq
  std::atomic<uint64_t> journal_syncs;       // fdatasyncs of the journal (group commit shows)
  char boot_id[40];  // the boot this memory belongs to: another one means a reboot happened
  pthread_mutex_t sync_lock;  // robust: one fdatasync at a time; waiters share it
};

// A task record (1 KiB). Guarded by the segment lock; a runner copies it out before use and
// validates every field (another process may have scribbled on it).
struct TaskRecord {
  uint64_t id;
  uint32_t kind;         // TaskKind
  uint32_t flags;        // kFlag*
  uint32_t attempts;     // runs started so far
  uint32_t max_retries;  // re-runs allowed after the runner died
  uint32_t submitter_uid;
  int32_t submitter_pid;
  int32_t runner_pid;    // the process that ran (or runs) the task
  int32_t exit_code;     // -1 until known
  int32_t signal;        // 0 unless the task died of a signal
  uint32_t payload_len;  // bytes used in payload
  uint64_t timeout_ms;   // 0 = none
  uint64_t deadline_us;  // started_at + timeout, 0 = none
  uint64_t submitted_at_us;
  uint64_t started_at_us;
  uint64_t finished_at_us;
  // `taskq pause`: when the current pause began (0 = not paused) and the pauses of this run so far.
  // Run time and the deadline leave paused time out.
  uint64_t paused_at_us;
  uint64_t paused_us;
  uint64_t user_us;
  uint64_t sys_us;
  uint64_t max_rss_kb;
  uint64_t read_bytes;
  uint64_t write_bytes;
  uint64_t vol_ctxsw;
  uint64_t invol_ctxsw;
  // Spec of built-in kinds.
  uint64_t cpu_count;
  uint64_t cpu_seed;
  uint64_t io_bytes;
  uint64_t io_block;
  // Results.
  uint64_t result_checksum;  // cpu
  uint64_t result_count;     // cpu: numbers generated; io: bytes written
  uint16_t argc;             // exec: NUL-terminated strings in payload: cwd, argv[argc], env[envc]
  uint16_t envc;
  int32_t child_pid;  // pool: the exec process a worker started (its group is killed
                      // when the worker dies); 0 when none. kFlagBatchJob: the job id
  // Scheduling (issue 7): the group row, the priority, the earliest start and the tasks that
  // must have succeeded first.
  uint32_t group;
  uint32_t priority;
  uint64_t not_before_us;  // 0 = at once
  uint32_t after_count;    // entries used in `after`
  uint32_t label_count;    // KEY=VALUE strings at the end of the payload (`--label`, `--unique`)
  uint64_t after[kMaxAfter];
  // `submit --array` / `--each-line`: the id of the array's first task (0 = not in an array) and
  // this task's index in it.
  uint64_t array_id;
  uint64_t array_index;
  // Retries (issue 16): which ends are retried (bits 1 << TaskState: failed, timed_out, lost; 0
  // = lost only) and the delay before the next attempt (max 0: always retry_delay_ms; else it
  // doubles per attempt up to max). Retries count from series_first_attempt, which a restart
  // moves to the attempt it starts.
  uint32_t retry_on;
  uint32_t retry_delay_ms;
  uint32_t retry_delay_max_ms;
  uint32_t series_first_attempt;
  AttemptEntry attempt_log[kAttemptLog];
  char reason[kReasonBytes];
  char payload[kPayloadBytes];  // io: the path; exec: cwd, argv, env (see argc/envc); labels
};
static_assert(sizeof(TaskRecord) == 1024, "TaskRecord must stay 1 KiB: update layout version");

// Where each part starts, from the start of the mapping.
struct SegmentLayout {
  uint32_t capacity;
  size_t directory_offset;
  size_t links_offset;
  size_t records_offset;
  size_t total_size;
};

inline SegmentLayout ComputeLayout(uint32_t capacity) {
  auto round_up = [](size_t n) { return (n + 4095) & ~size_t{4095}; };
  SegmentLayout l{};
  l.capacity = capacity;
  l.directory_offset = round_up(sizeof(SegmentHeader));
  l.links_offset = round_up(l.directory_offset + sizeof(SlotEntry) * capacity);
  l.records_offset = round_up(l.links_offset + sizeof(QueueLink) * capacity);
  l.total_size = round_up(l.records_offset + sizeof(TaskRecord) * size_t{capacity});
  return l;
}

}  // namespace taskq
