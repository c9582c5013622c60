// Segment is one queue: a mapped shared-memory segment (or file) holding the FIFO ring and the
// task table (layout in common/segment_format.h, story in docs/segment_format.md). Every process
// that touches a queue — supervisor, workers, per-task runners, clients — goes through this class.
// All operations that change the queue take the segment's robust lock; a process killed while
// holding it leaves the queue repairable, and the next locker repairs it (Repair()).
//
// Only the segment's owner (the daemon's user) maps it read-write. Every other user maps it
// read-only (read_only()): the readers below then copy records lock-free, and every operation
// that changes the queue refuses (kUnavailable); such users change the queue by asking the
// daemon over its control socket (common/control_protocol.h).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/journal.h"
#include "common/options.h"
#include "common/segment_format.h"
#include "common/status.h"
#include "common/task.h"
#include "common/task_lifecycle.h"

namespace taskq {

// How one run of a task ended, as reported by its runner.
struct TaskOutcome {
  TaskState state = TaskState::kSucceeded;
  int32_t exit_code = 0;
  int32_t signal = 0;
  uint64_t user_us = 0;
  uint64_t sys_us = 0;
  uint64_t max_rss_kb = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t vol_ctxsw = 0;
  uint64_t invol_ctxsw = 0;
  uint64_t result_checksum = 0;
  uint64_t result_count = 0;
  uint64_t finished_at_us = 0;  // 0 = when it is recorded
  std::string reason;
};

// A task claimed by a runner: where it lives and a validated copy of its record.
struct ClaimedTask {
  uint32_t slot = 0;
  TaskRecord record{};
  TaskSpec spec;
  // The live flags word of the task's record in the mapping (set by Pop), read by a built-in
  // kernel to stop when `taskq kill` sets kFlagCancelKill; nullptr when there is none.
  const uint32_t* live_flags = nullptr;
  // The live record itself (set with live_flags): its deadline moves when a pause ends.
  const TaskRecord* live_record = nullptr;
  // True once someone asked to kill this run (lock-free: one word, written under the lock).
  bool KillRequested() const;
  // True while the run is paused (`taskq pause`): a built-in kernel waits, an exec command is
  // stopped (SIGSTOP) by whoever started it.
  bool PauseRequested() const;
  // The run's deadline now (kNoDeadline = none), paused time left out; the claim's copy when
  // there is no live record.
  uint64_t LiveDeadline(uint64_t now_us) const;
};

struct StateCounts {
  uint64_t by_state[kTaskStateCount] = {};
  uint64_t queue_depth = 0;  // queued tasks
  uint64_t queued_by_group[kMaxGroups] = {};
  uint64_t running_by_group[kMaxGroups] = {};
  uint64_t finished_by_group[kMaxGroups] = {};
};

// A held task that waits for its delay (`--delay`, `--at`, a retry delay): which, and when.
struct HeldDelay {
  uint64_t due_us = 0;  // its not_before, Unix µs
  uint64_t id = 0;
  uint32_t slot = 0;
};

// What a sweep of the waiting (delayed or dependent) tasks found.
struct HeldSweep {
  uint32_t failed = 0;  // dependents failed because a dependency did not succeed
  uint32_t ready = 0;   // waiting tasks whose time has come or whose dependencies succeeded
  uint32_t held = 0;    // still waiting
  std::vector<HeldDelay> delays;  // those of them that wait for a time
};

// Where a queue's segment lives, from the resolved options.
struct SegmentLocation {
  Storage storage = Storage::kShm;
  std::string shm_name;   // storage shm: name under /dev/shm
  std::string file_path;  // storage file: path of the mapped file
  std::string Describe() const;
};
// `layout_version`: where a segment of another layout would be (an older taskq's queue).
SegmentLocation LocateSegment(const Options& resolved, uint32_t layout_version = kLayoutVersion);

// True when a file segment belongs to an earlier boot (or is unreadable) and a journal exists
// to rebuild it from: taskqd then drops the file instead of trusting pages a power cut may have
// left old (common/segment_journal.cc).
bool SegmentFromAnotherBoot(const Options& resolved);
// The boot id a segment's header records ("" before its first supervisor start).
std::string HeaderBootId(const SegmentHeader& header);

// What StartJournal rebuilt from the journal.
struct JournalReplay {
  uint64_t entries = 0;     // intact entries read
  uint64_t tasks = 0;       // tasks in the rebuilt table
  uint64_t skipped = 0;     // entries that fit no slot
  uint64_t torn_bytes = 0;  // bytes after the last intact entry (never acknowledged)
  uint64_t next_id = 0;
  std::vector<std::pair<uint32_t, uint64_t>> running;  // tasks that ran when the machine went
};

class Segment {
 public:
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // For the supervisor: creates the segment (mode from options) or reattaches an existing one,
  // and takes the exclusive supervisor lock (an OFD write lock on the segment's first byte). Fails
  // with kUnavailable when another supervisor serves the queue or the existing segment is foreign,
  // corrupt, or owned by someone else.
  static Status OpenAsSupervisor(const Options& resolved, std::unique_ptr<Segment>* out);
  // For clients, workers and runners: attaches an existing, valid segment, read-write when this
  // process's user owns it, read-only otherwise.
  static Status Attach(const Options& resolved, std::unique_ptr<Segment>* out);
  // Removes the segment. Refuses (kFailed) while a supervisor holds it.
  static Status Remove(const Options& resolved);

  SegmentHeader* header() { return header_; }
  uint32_t capacity() const { return capacity_; }
  // True when this process may only read (it is not the segment's owner). Mutators then return
  // kUnavailable, false or do nothing; readers take no lock.
  bool read_only() const { return read_only_; }
  // The segment file's owner: the daemon's user.
  uid_t owner_uid() const { return owner_uid_; }
  std::string state_dir() const;
  // True while a supervisor holds the segment's exclusive lock (it is alive).
  bool SupervisorAlive() const;

  // Submits tasks in order under one lock; on a full queue, submits what fits and returns
  // kQueueFull. `ids` receives the id of each submitted task. The tasks are recorded as
  // submitted by `submitter_uid` (the daemon passes the uid the kernel vouched for; a client
  // writing directly is the owner, and passes nothing: its own uid).
  // A spec with `unique` is not submitted when a queued or running task has its key (or an
  // earlier spec of the call): `ids` gets that task's id and `existing` (when given) a 1 at
  // its position. An array task with array_id 0 gets the id of the call's first array task.
  Status Submit(std::span<const TaskSpec> specs, std::vector<uint64_t>* ids,
                std::optional<uint32_t> submitter_uid = std::nullopt,
                std::vector<uint8_t>* existing = nullptr);
  Status Submit(const std::vector<TaskSpec>& specs, std::vector<uint64_t>* ids) {
    return Submit(std::span<const TaskSpec>(specs), ids);
  }
  // Claims the next task of `group` for `runner_pid`: the highest priority whose delay is over
  // and whose dependencies all succeeded, the oldest first within a priority. Dependents of a
  // task that did not succeed are failed on the way. False when none is runnable (or the group
  // is paused).
  bool Pop(int32_t runner_pid, ClaimedTask* task, uint32_t group = 0);
  // A pool worker's step: records the end of its task (as Complete; a kLost outcome goes through
  // RunnerDied) and claims the next one (as Pop) under one hold of the lock. Each hold contended
  // by the other workers costs a futex wake on release, which a trivial task cannot afford.
  bool CompleteAndPop(uint32_t slot, uint64_t id, const TaskOutcome& outcome, int32_t runner_pid,
                      ClaimedTask* next, uint32_t group = 0);
  // Walks the held list: fails dependents whose dependencies did not succeed, moves the tasks
  // that became runnable to their ready lists (and wakes the runners), and reports the delays of
  // those still waiting. A dependency's end and `release` move their tasks themselves, so the
  // supervisor walks only when HeldListChanged() (daemon/held_walk.h), never at every tick.
  HeldSweep SweepHeld();
  // Does for the delayed tasks of `due` what a walk would (each checked first: still that task,
  // queued and held), without walking the held list: the supervisor keeps the delays a walk
  // found in a heap and hands over those whose time has come. Costs what `due` holds.
  HeldSweep ReleaseDue(const std::vector<HeldDelay>& due);
  // Steps only the tasks that joined the held list since the last look (a delayed submit, a
  // dependent whose dependency failed, a retry waiting for its delay), as a walk would step them:
  // its cost follows the joins, not the list. Their delays are reported for the heap.
  HeldSweep StepHeldJoins();
  // The whole held list needs a walk: more tasks joined than the log holds, or a dependency
  // chain broke; the walk clears it (and the log).
  bool HeldListChanged() const { return header_->held_hint.load(std::memory_order_relaxed) != 0; }
  // Tasks joined the held list since the last look (StepHeldJoins).
  bool HeldJoinsLogged() const { return header_->held_joined.load(std::memory_order_relaxed) != 0; }

  // The group table. Add fails (kInvalid) for a bad or existing name unless `update` is set;
  // Remove refuses `default` and groups with queued or running tasks.
  Status AddGroup(const std::string& name, const GroupSettings& settings, bool from_config,
                  bool update);
  Status RemoveGroup(const std::string& name);
  Status SetGroupPaused(const std::string& name, bool paused);
  std::vector<GroupInfo> Groups();
  // The name of a group row, "" when the row is unused (lock-free read: a display hint).
  std::string GroupName(uint32_t index);
  // Records the pid that actually runs a claimed task (process policy: the child).
  void SetRunner(uint32_t slot, uint64_t id, int32_t runner_pid);
  // Records the end of a run. Ignored when the task is no longer running under this id (e.g.
  // the supervisor already declared the runner dead).
  void Complete(uint32_t slot, uint64_t id, const TaskOutcome& outcome);
  // Records the exec child a pool worker started for a task, so the group can be killed if the
  // worker dies. True when a kill was requested before the child existed: the worker then kills
  // it at once (the supervisor had no process to signal).
  bool SetChild(uint32_t slot, uint64_t id, int32_t child_pid);
  // The runner of a task died: requeue it while retries allow (and `may_retry`), else mark it
  // lost (or timed_out when its deadline had fired or passed). Returns the task's new state.
  TaskState RunnerDied(uint32_t slot, uint64_t id, const std::string& why, int32_t signal,
                       bool may_retry = true);
  // A batch scheduler's job runs a claimed task (the `slurm` policy): kFlagBatchJob, the job id
  // in child_pid.
  void SetBatchJob(uint32_t slot, uint64_t id, uint32_t job_id);
  // The batch job started at `started_at_us` (after waiting in the scheduler's queue); the
  // task's start time and deadline move there.
  void MarkStarted(uint32_t slot, uint64_t id, uint64_t started_at_us);
  // Ends a run: Complete() for an outcome with an exit status, RunnerDied() for kLost.
  void Finish(uint32_t slot, uint64_t id, const TaskOutcome& outcome);
  // Marks the deadline of a running task as fired (so its end is recorded as timed_out).
  void MarkTimeoutFired(uint32_t slot, uint64_t id);
  // Cancels a queued task. A running batch-job task (kFlagBatchJob) gets kFlagCancelKill: its
  // executor cancels the job and records it cancelled. kFailed when it runs otherwise or finished,
  // kInvalid when unknown.
  Status Cancel(uint64_t id);
  // `taskq kill`: marks a running task killed (kFlagCancelKill; its reason becomes `why`) and
  // copies its record to `running`, so the daemon can signal what runs it; however the run then
  // ends but in success, it is cancelled. kFailed when it is queued or finished.
  Status RequestKill(uint64_t id, const std::string& why, TaskRecord* running);
  // `taskq hold` / `taskq release`: keeps a queued task back (kFlagHeld) or lets it run.
  // kFailed when it is not queued, or already held (not held); kInvalid when unknown.
  Status SetHeld(uint64_t id, bool held);
  // `taskq restart`: queues a finished task again as the next attempts of the same id (the
  // attempt count goes on, retries count afresh; its reason becomes `why`). kFailed when it has
  // not finished; kInvalid when unknown (or evicted).
  Status Restart(uint64_t id, const std::string& why);
  // `taskq pause` / `taskq resume`: marks a running task paused (kFlagPaused, the pause's start)
  // or ends its pause (the pause joins paused_us and moves the deadline), and copies its record
  // to `running` so the daemon can stop or continue what runs it. kFailed when it is not
  // running, already paused (not paused), or a batch job; kInvalid when unknown.
  Status SetPaused(uint64_t id, bool paused, TaskRecord* running);

  // Readers: copies, never pointers into the segment.
  bool Get(uint64_t id, TaskInfo* info);
  std::vector<TaskInfo> List();
  // Tasks per state (and, with `by_group`, per group: that reads every record, not just the
  // directory — 64 MiB instead of 1 MiB at 65,536 slots).
  StateCounts Count(bool by_group = true);
  // The state of a task without the lock or a copy of its record (common/segment_peek.cc);
  // nullopt when the id is unknown (never submitted, evicted) or not submitted completely yet.
  std::optional<TaskState> PeekState(uint64_t id);
  // Queued tasks submitted by `uid` (max_queued_per_user).
  uint64_t QueuedBy(uint32_t uid);
  // Ids of the queued and running tasks, in id order (a scan of the directory only).
  std::vector<uint64_t> UnfinishedIds();
  // Slots of running tasks whose runner is `pid` (recovery after a runner died).
  std::vector<std::pair<uint32_t, uint64_t>> RunningOwnedBy(int32_t pid);
  // Slots of all running tasks with their runner pids.
  std::vector<std::pair<uint32_t, TaskRecord>> Running();

  // Wakes pool workers after new work; called by Submit and by the supervisor after requeues.
  void WakeWorkers(uint32_t count);
  // The supervisor answers a ping (`taskq ping`): pong_seq moves and its sleepers wake.
  void AnswerPing();
  // Every sleeping client (the supervisor stops: they look and see that no daemon runs).
  void WakeEveryWaiter();
  // The word a client waiting for task `id` sleeps on (its slot's state, woken by the task's
  // end); nullptr when the slot holds no such task (never submitted, or evicted).
  std::atomic<uint32_t>* TaskStateWord(uint64_t id);

  // Rebuilds every derivable invariant under the lock: frees slots reserved by dead submitters,
  // drops ring entries that are not queued, puts queued tasks missing from the ring back, and
  // recounts. Called automatically when a locker finds the lock's holder dead.
  // Returns a description of each fix made (empty when healthy).
  std::vector<std::string> Repair();
  // Checks the invariants without changing anything; returns the problems found.
  std::vector<std::string> Check();

  // Durability (common/segment_journal.cc). The level the supervisor set.
  Durability durability() const;
  // True when this Map created the segment (it holds no tasks of its own yet).
  bool created() const { return created_; }
  // Drops this process's mapping of the slot table's pages (they stay in the segment: the next
  // access maps them again). The supervisor calls it after its start-up scan, which touched
  // every slot, so that an idle daemon's RSS is not the whole table.
  void ForgetTablePages();
  // For the supervisor, once at start: with durability memory, removes any journal; otherwise
  // rebuilds the table from the journal when `rebuild` (a fresh segment, or one from another
  // boot), records this boot, and compacts the journal to exactly what the table holds. Tasks
  // that were running when the machine went are ended as their runner's death.
  Status StartJournal(const Options& resolved, bool rebuild, JournalReplay* replay);
  // Returns once every change appended so far is on stable storage (one fdatasync for all who
  // wait at once). Ok at once with durability memory.
  Status MakeDurable();
  // For waits under durability sync: true once the last change of the task's slot is synced.
  bool ResultDurable(uint64_t id) const;
  // Rewrites the journal as the table's live slots (the supervisor: when it grew past its
  // bound, or after a failed append).
  Status CompactJournal();
  bool JournalWantsCompaction() const;

  // The exclusive supervisor lock is released when the Segment is destroyed.
 private:
  Segment() = default;
  static Status Map(const Options& resolved, bool create, std::unique_ptr<Segment>* out);
  Status Validate(uint64_t file_size) const;
  void InitializeFresh(const Options& resolved);

  void Lock();
  // Releases the lock; first ends every record write of this hold (seq back to even).
  void Unlock();
  // Read-write processes take the lock to read; read-only ones cannot, and read lock-free.
  bool LockToRead() {
    if (read_only_) return false;
    Lock();
    return true;
  }
  // Copies the record of `slot` lock-free (the seq protocol of SlotEntry) when it holds a
  // submitted task (and `id`, unless 0). False when it does not, or a writer never finished.
  bool CopySlotLockFree(uint32_t slot, uint64_t id, TaskInfo* info);
  void FillInfo(uint32_t slot, TaskInfo* info);
  std::vector<std::string> RepairLocked();
  std::vector<std::string> CheckLocked();
  // One held task's step of a walk (SweepHeld, ReleaseDue): failed, moved to its ready list, or
  // left waiting (in a dependency's chain, or among `sweep->delays`).
  void StepHeldLocked(uint32_t slot, uint64_t now_us, HeldSweep* sweep);
  // StepHeldLocked for a slot some earlier look named: only while it is still queued in the held
  // list (and, given `id`, still that task).
  void StepIfStillHeldLocked(uint32_t slot, std::optional<uint64_t> id, uint64_t now_us,
                             HeldSweep* sweep);
  bool QueuedInHeldListLocked(uint32_t slot) {
    return link(slot).list == kHeldList && StateOf(entry(slot)) == TaskState::kQueued;
  }
  bool ClaimSlotLocked(uint64_t now_us, uint64_t* id, uint32_t* slot,
                       std::vector<uint64_t>* evicted);
  // The queue's lists (common/segment_lists.cc, segment_format.h QueueLink). EnqueueLocked links
  // a task that just became kQueued: into the ready list of its group and priority when it can
  // run now, else into the held list. LinkLocked keeps a ready list ordered by `order` (a task
  // released from the held list walks back from the tail to its place); UnlinkLocked takes a
  // slot out of whatever list holds it.
  void EnqueueLocked(uint32_t slot, uint64_t now_us);
  // Notes a task that joined the held list for StepHeldJoins (or asks for a walk when full).
  void LogHeldJoinLocked(uint32_t slot);
  void LinkLocked(uint32_t slot, uint32_t list);
  void UnlinkLocked(uint32_t slot);
  // True when the neighbours (or the list's ends) of `slot` point back at it.
  bool LinkedWhereItSaysLocked(uint32_t slot);
  // The task in `slot` just finished: each held task in its chain of dependents is examined
  // again (EnqueueLocked), so one that can now run goes to its ready list at once, one waiting
  // on another dependency joins that one's chain, and one that never can waits for the sweep
  // to fail it. The cost follows the dependents, not the queue.
  void ReleaseDependentsLocked(uint32_t slot, uint64_t now_us);
  // Puts held task `slot` in the chain of the dependency `dep_slot`, or takes it out of the
  // chain it is in. Detach trusts no neighbour that does not point back.
  void AttachDependentLocked(uint32_t slot, uint32_t dep_slot);
  void DetachDependentLocked(uint32_t slot);
  // The slot of the first dependency of `r` that is still unfinished (queued, reserved or
  // running) under the id `r` names; UINT32_MAX when none is.
  uint32_t BlockingDependencyLocked(const TaskRecord& r);
  // Attaches held task `slot` to its first unfinished dependency, when it has one.
  void AttachToBlockingDependencyLocked(uint32_t slot);
  // Empties every list and links each queued task again, in `order`: the repair of any damage.
  void RebuildListsLocked();
  // What is wrong with the lists (a broken chain, a queued task in no list or two), for doctor.
  std::vector<std::string> CheckListsLocked();
  // True when a list's ends point into the table (checked before a pop trusts them).
  bool ListEndsSaneLocked(uint32_t list) const;
  QueueLink& link(uint32_t slot) { return links_[slot]; }
  bool QueueFieldsSaneLocked() const;
  void EnsureSaneLocked(const char* where);  // repairs (and logs) impossible queue fields
  // The one writer of a task's state: applies `event` to task `id` in `slot` as the lifecycle
  // table decides (common/task_lifecycle.h), when the slot still holds that id, and derives the
  // bookkeeping from the (from, to) pair: queued and running counters, finish stamps, the
  // start of a run, requeueing, and the wakes Unlock() then sends. A refused transition
  // changes nothing.
  TaskTransition TransitionLocked(uint32_t slot, uint64_t id, TaskEvent event,
                                  const TaskFacts& facts, uint64_t now_us);
  // The record of `slot` for writing when it still holds running task `id`, else null: the one
  // guard of the calls that annotate a run (SetRunner, SetChild, SetBatchJob, MarkStarted).
  TaskRecord* RunningRecordLocked(uint32_t slot, uint64_t id);
  bool PopLocked(int32_t runner_pid, ClaimedTask* task, uint32_t group);
  // The queued or running task labelled `label` (KEY=VALUE), 0 when none: --unique's check, a
  // scan of the directory and of the labels of unfinished records.
  uint64_t FindUnfinishedLabelledLocked(const std::string& label);
  // Takes the lock for a user's request on task `id` (cancel, kill, hold, release) and finds
  // its slot; on an unknown id (or a read-only mapping) fails with the lock released.
  Status LockTask(uint64_t id, uint32_t* slot);
  // The slot to pop instead of `best` (the head of its ready list) so that users take turns.
  uint32_t TakeTurnsLocked(uint32_t best, uint32_t group);
  bool CompleteLocked(uint32_t slot, uint64_t id, const TaskOutcome& outcome);
  // Keeps header->queued_by_priority in step when a slot enters (+1) or leaves (-1) kQueued.
  void CountQueuedLocked(uint32_t slot, int delta);
  // Ends the pause of a paused run: its length joins paused_us and moves the deadline.
  static void EndPauseLocked(TaskRecord* r, uint64_t now_us);
  // Keeps header->running_tasks in step when a slot enters (+1) or leaves (-1) kRunning.
  void CountRunningLocked(int delta);
  // Recounts the queued (per group, priority and user) and running counters from slot states.
  void RecountQueuedLocked();
  // Keeps header->queued_by_user in step (fair sharing).
  void CountUserLocked(uint32_t uid, int delta);
  // True when a user other than `uid` has queued tasks (per the header's hint).
  bool OthersQueuedLocked(uint32_t uid) const;
  // The same, among the users whose tasks share `uid`'s lane (UserLaneOf); true as well when the
  // user table is full (a user beyond it is not counted).
  bool OthersQueuedInLaneLocked(uint32_t uid) const;
  // The ready list whose head is the oldest among the non-empty lanes of `lane_set` (a group and
  // priority), skipping heads submitted by `other_than_uid`; kNoList when none. Sets `rebuilt`
  // (and returns kNoList) when a scribbled list made it rebuild every list.
  uint32_t OldestReadyLocked(uint32_t lane_set, std::optional<uint32_t> other_than_uid,
                             bool* rebuilt);
  // Queue order of two queued tasks: `order`, then id.
  bool OlderLocked(uint32_t a_slot, uint32_t b_slot);
  int32_t FindGroupLocked(const std::string& name);
  enum class Readiness { kReady, kWaiting, kNever };
  Readiness ReadinessLocked(const TaskRecord& r, uint64_t now_us, std::string* why);
  void FailWaitingLocked(uint32_t slot, const std::string& why, uint64_t now_us);
  TaskInfo InfoLocked(uint32_t slot);

  SlotEntry& entry(uint32_t slot) { return directory_[slot]; }
  // Reading a record under the lock.
  const TaskRecord& record(uint32_t slot) const { return records_[slot]; }
  // Writing a record under the lock: marks the slot's seq odd until Unlock(), so lock-free
  // readers never take a half-written copy.
  TaskRecord& WritableRecord(uint32_t slot);
  // Durability: a slot written in this hold gets the number of the journal entry Unlock() will
  // append for it; Unlock() appends the hold's images (and the group table when it changed).
  void NoteJournaledLocked(uint32_t slot);
  void AppendHoldToJournalLocked();
  // The journal entries that carry a slot's whole image, and the group table's.
  void SlotImageLocked(uint32_t slot, uint64_t number, JournalEntry* out) const;
  void GroupsImageLocked(uint64_t number, JournalEntry* out) const;
  void ReplayEntryLocked(const JournalEntry& in, JournalReplay* replay);
  uint32_t SlotOf(uint64_t id) const { return static_cast<uint32_t>((id - 1) % capacity_); }

  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  SegmentHeader* header_ = nullptr;
  SlotEntry* directory_ = nullptr;
  QueueLink* links_ = nullptr;
  TaskRecord* records_ = nullptr;
  uint32_t capacity_ = 0;
  int fd_ = -1;
  // The supervisor's lock lives on a descriptor of its own, never mapped: a mapping holds its
  // open file description, and a forked runner that outlives the supervisor (an exec task's
  // keeper) keeps the supervisor's mappings, so a lock on the mapped description would outlive
  // the supervisor with it and keep the next one out.
  int lock_fd_ = -1;
  bool supervisor_ = false;
  bool read_only_ = false;
  uid_t owner_uid_ = 0;
  std::vector<uint32_t> writing_;  // slots whose seq this lock hold made odd
  bool created_ = false;
  // Durability: this process's descriptors of the journal (appends under the segment lock, syncs
  // under the sync lock) and the file generation each was opened for.
  int journal_fd_ = -1;
  uint32_t journal_generation_ = 0;
  int sync_fd_ = -1;
  uint32_t sync_generation_ = 0;
  uint32_t groups_seq_at_lock_ = 0;
  std::vector<JournalEntry> journal_buffer_;
  // Wakes the transitions of this lock hold asked for; Unlock() sends them: the slots of the
  // tasks that ended (their waiters) and how many workers.
  std::vector<uint32_t> ended_slots_;
  bool space_made_ = false;  // evicted finished tasks: a blocked submit may go on
  uint32_t workers_to_wake_ = 0;
  void WakeWaitersOf(const std::vector<uint32_t>& ended_slots);
};

// What a read-only Segment's mutators return.
Status ReadOnlyRefusal();

// Deletes the per-task files (logs, default io file) of evicted tasks.
void RemoveTaskFiles(const std::string& state_dir, const std::vector<uint64_t>& ids);

// Test hook: when TASKQ_TEST_CRASH_AT equals `point`, the process SIGKILLs itself there.
void TEST_CrashPoint(const char* point);
// Overrides TASKQ_TEST_CRASH_AT in this process (a test's forked child).
void TEST_SetCrashPoint(const char* point);

}  // namespace taskq
